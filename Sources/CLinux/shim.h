#pragma once
/* Linux descriptors the worker loop waits on that Swift's Glibc module does not export. */
#include <sys/signalfd.h>
#include <sys/eventfd.h>
