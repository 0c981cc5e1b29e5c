# httpq: the PGXS build of the extension, plus the run, test and bench entry points.
#
#   make              generate extension/httpq--<version>.sql from sql/*.sql
#   make install      install the extension into the Postgres that pg_config names
#   make installcheck run the pg_regress and isolation suites against a running server
#   make test         everything from nothing: packages, a throwaway cluster, SQL and Swift tests
#   make run          a private cluster under .httpq/ (unless DATABASE_URL/PG* is set) and a worker
#   make stop         stop the private cluster started by make run
#   make bench        the benchmark (QUICK=1 for the quick mode, SOAK=1 to add the soak,
#                     ONLY=PART for one part of it)
#   make chaos        faults injected, every request accounted for (QUICK=1 for the quick mode)

EXTVERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" extension/httpq.control)
MODULEDIR   = extension
DATA_built  = extension/httpq--$(EXTVERSION).sql
# The control file, upgrade scripts, and the install scripts of released versions, kept as
# released so that an installed older version can be upgraded from.
DATA        = extension/httpq.control $(filter-out $(DATA_built),$(wildcard extension/httpq--*.sql))

REGRESS       = $(basename $(notdir $(sort $(wildcard Tests/regress/sql/*.sql))))
REGRESS_OPTS  = --inputdir=Tests/regress --outputdir=.build/regress
ISOLATION     = $(basename $(notdir $(sort $(wildcard Tests/regress/specs/*.spec))))
ISOLATION_OPTS = --inputdir=Tests/regress --outputdir=.build/isolation

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# After the include: Makefile.global sets these unconditionally.
CONTRIB_TESTDB   = httpq_regress
ISOLATION_TESTDB = httpq_isolation

# The same script serves CREATE EXTENSION and a plain `psql -f` on managed Postgres,
# so it carries no "use CREATE EXTENSION" guard line.
extension/httpq--$(EXTVERSION).sql: $(sort $(wildcard sql/*.sql)) extension/httpq.control
	@printf -- '-- httpq %s: generated from sql/*.sql by make; do not edit.\n' '$(EXTVERSION)' > $@
	cat $(sort $(wildcard sql/*.sql)) >> $@

installcheck: | .build/regress .build/isolation
.build/regress .build/isolation:
	mkdir -p $@

.PHONY: test run stop bench chaos
test:
	bash Tests/support/test.sh

run:
	bash Tests/support/run.sh

stop:
	bash Tests/support/cluster.sh stop .httpq

bench:
	bash Tests/bench/bench.sh $(if $(QUICK),--quick) $(if $(LARGE),--large) $(if $(SOAK),--soak) $(if $(ONLY),--only $(ONLY))

chaos:
	bash Tests/chaos/chaos.sh $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY))
