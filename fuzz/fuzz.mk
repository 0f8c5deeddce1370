# Fuzzing of the module's nginx-free core, included by the top Makefile.
#
#   make fuzz-smoke   each target for FUZZ_SMOKE_SECONDS (10) s, as in make test
#   make fuzz         each target for FUZZ_SECONDS (60) s
#
# Targets are libFuzzer binaries in build/fuzz/, run one after another so
# that a single core is busy.  The seeds in fuzz/corpus/NAME/ are copied into
# build/fuzz/corpus-NAME/, which the runs grow, so the committed seeds are
# never written.  A crash, leak, timeout or out-of-memory leaves its input
# in build/fuzz/NAME-crash-* (or -leak-, -timeout-, -oom-), its report in
# build/fuzz/NAME.log, and makes the target exit non-zero.

FUZZ_PACKAGES      := clang libclang-rt-14-dev

FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 10

FUZZ_CC            ?= clang
FUZZ_CFLAGS        ?= -std=c99 -Wall -Wextra -g -O1 -fno-omit-frame-pointer \
                      -fsanitize=fuzzer,address,undefined \
                      -fno-sanitize-recover=undefined
# an input taking over 10 s is a hang worth a report
FUZZ_FLAGS         ?= -timeout=10 -rss_limit_mb=2048
FUZZ_ENV           ?= UBSAN_OPTIONS=print_stacktrace=1

FUZZ_DIR           := build/fuzz
FUZZ_TARGETS       := json amount regex report snapshot scan
FUZZ_BINS          := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

# the top Makefile's first target stays the default one
FUZZ_DEFAULT_GOAL  := $(.DEFAULT_GOAL)

.PHONY: fuzz fuzz-smoke

fuzz: $(FUZZ_BINS)
	$(call FUZZ_RUN,$(FUZZ_SECONDS))

fuzz-smoke: $(FUZZ_BINS)
	$(call FUZZ_RUN,$(FUZZ_SMOKE_SECONDS))

$(FUZZ_DIR)/fuzz_json: fuzz/fuzz_json.c src/ngx_http_provider_gate_json.c \
                       src/ngx_http_provider_gate_calc.c \
                       src/ngx_http_provider_gate_json.h \
                       src/ngx_http_provider_gate_calc.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc -o $@ $(filter %.c,$^) \
	    $$(pkg-config --cflags --libs libcjson) -lm

$(FUZZ_DIR)/fuzz_amount: fuzz/fuzz_amount.c src/ngx_http_provider_gate_calc.c \
                         src/ngx_http_provider_gate_calc.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc -o $@ $(filter %.c,$^) -lm

$(FUZZ_DIR)/fuzz_regex: fuzz/fuzz_regex.c src/ngx_http_provider_gate_regex.c \
                        src/ngx_http_provider_gate_presets.c \
                        src/ngx_http_provider_gate_regex.h \
                        src/ngx_http_provider_gate_presets.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc -o $@ $(filter %.c,$^) \
	    $$(pkg-config --cflags --libs libpcre2-8)

$(FUZZ_DIR)/fuzz_snapshot: fuzz/fuzz_snapshot.c \
                           src/ngx_http_provider_gate_snapshot.c \
                           src/ngx_http_provider_gate_snapshot.h \
                           src/ngx_http_provider_gate_calc.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc -o $@ $(filter %.c,$^)

$(FUZZ_DIR)/fuzz_report: fuzz/fuzz_report.c \
                         src/ngx_http_provider_gate_report.c \
                         src/ngx_http_provider_gate_report.h \
                         src/ngx_http_provider_gate_calc.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc -o $@ $(filter %.c,$^) -lm

$(FUZZ_DIR)/fuzz_scan: fuzz/fuzz_scan.c src/ngx_http_provider_gate_scan.c \
                       src/ngx_http_provider_gate_json.c \
                       src/ngx_http_provider_gate_calc.c \
                       src/ngx_http_provider_gate_scan.h \
                       src/ngx_http_provider_gate_json.h \
                       src/ngx_http_provider_gate_calc.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc -o $@ $(filter %.c,$^) \
	    $$(pkg-config --cflags --libs libcjson) -lm

# $(1): seconds for each target.  One line per target: executions, time,
# corpus size and whether it crashed; the first error line and the saved
# input after a crash.  Every target runs; the exit is 1 if any crashed.

define FUZZ_RUN
	@failed=; \
	for t in $(FUZZ_TARGETS); do \
	    corpus=$(FUZZ_DIR)/corpus-$$t; log=$(FUZZ_DIR)/$$t.log; \
	    mkdir -p $$corpus && cp fuzz/corpus/$$t/* $$corpus/ || exit 1; \
	    start=$$(date +%s); \
	    $(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$$t $(FUZZ_FLAGS) \
	        -max_total_time=$(1) -print_final_stats=1 \
	        -dict=fuzz/$$t.dict -artifact_prefix=$(FUZZ_DIR)/$$t- \
	        $$corpus > $$log 2>&1; \
	    rc=$$?; \
	    secs=$$(( $$(date +%s) - start )); \
	    execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log); \
	    files=$$(ls $$corpus | wc -l); \
	    if [ $$rc = 0 ]; then \
	        result="no crash"; \
	    else \
	        result="CRASHED (exit $$rc), see $$log"; \
	        failed="$$failed fuzz_$$t"; \
	    fi; \
	    echo "fuzz_$$t: $${execs:-?} executions in $$secs s," \
	         "corpus $$files files, $$result"; \
	    if [ $$rc != 0 ]; then \
	        grep -m1 -E 'ERROR|invariant broken|runtime error|Timeout' \
	            $$log | sed 's/^/    /'; \
	        sed -n 's/.*Test unit written to /    input: /p' $$log; \
	    fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashed:$$failed"; exit 1; fi
endef

.DEFAULT_GOAL      := $(FUZZ_DEFAULT_GOAL)

