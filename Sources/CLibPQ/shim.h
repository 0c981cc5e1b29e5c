#pragma once
/* libpq's headers; the include path comes from pkg-config (libpq). */
#include <libpq-fe.h>
