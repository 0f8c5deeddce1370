# ngx_http_provider_gate_module: build, test and demo.
#
#   make            build build/ngx_http_provider_gate_module.so
#   make test       install what is missing, build, run every test
#   make test-faults  the slow fault suites: reloads under load, SIGKILL
#   make test-valgrind  every .t with nginx under valgrind's memcheck
#   make fuzz       run each libFuzzer target FUZZ_SECONDS (60) seconds
#   make demo       install what is missing, build, run nginx with a mock
#   make install    (and uninstall, deb, test-deb): docs/install.md
#   make bench      install the bench tools, build, measure (5 to 8 min)
#
# NGINX_SRC is an nginx source tree, 1.22 or later: Debian's nginx-dev by
# default.  It is copied into build/, so the tree itself is never written.

SHELL        := /bin/bash

NGINX_SRC    ?= /usr/share/nginx/src
NGINX_BIN    ?= /usr/sbin/nginx

# The tests' mocks need the echo module.  Debian's .so loads only into
# Debian's nginx: against another nginx, ECHO_SRC (a checkout of
# echo-nginx-module) is built as a second dynamic module of NGINX_SRC.
ECHO_SRC     ?=
ifeq ($(ECHO_SRC),)
ECHO_MODULE  ?= /usr/lib/nginx/modules/ngx_http_echo_module.so
else
ECHO_MODULE  ?= $(CURDIR)/build/nginx/objs/ngx_http_echo_module.so
endif

# More configure arguments for the module's tree.  The module's debug log
# lines (which t/ checks) exist only with --with-debug, and its check of
# a ca_file's PEM only with OpenSSL (NGX_OPENSSL): Debian's flags have
# both, an upstream tree gets them here.  Neither is part of the binary
# signature, so the module still loads into an nginx built without them.
NGINX_CONFIGURE ?= --with-debug --with-http_ssl_module

BUILD        := build
TREE         := $(BUILD)/nginx
MODULE       := $(BUILD)/ngx_http_provider_gate_module.so
SOURCES      := $(wildcard src/*.c src/*.h)

UNIT_CFLAGS  ?= -std=c99 -Wall -Wextra -Werror -O1 -g \
                -fsanitize=address,undefined -fno-omit-frame-pointer
UNIT_TESTS   := $(BUILD)/unit/test_calc $(BUILD)/unit/test_state \
                $(BUILD)/unit/test_json $(BUILD)/unit/test_regex \
                $(BUILD)/unit/test_presets $(BUILD)/unit/test_report \
                $(BUILD)/unit/test_sha256 $(BUILD)/unit/test_event \
                $(BUILD)/unit/test_snapshot \
                $(BUILD)/unit/test_scan

# make fuzz, make fuzz-smoke: libFuzzer targets of the pure core
include fuzz/fuzz.mk

DEB_PACKAGES := nginx nginx-dev libcurl4-openssl-dev libcjson-dev \
                libpcre2-dev pkg-config gcc make libtest-base-perl \
                libhttp-message-perl libnginx-mod-http-echo \
                prometheus libxml2-utils openssl valgrind $(FUZZ_PACKAGES)

SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps test unit t test-faults test-valgrind demo bench bench-deps \
        clean

all: $(MODULE)

deps:
	@missing=; \
	for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    $(SUDO) apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# configure once per source tree and whenever "config" changes; the
# module's own objects are then rebuilt by nginx's Makefile as needed

$(TREE)/.configured: config $(BUILD)/.nginx-src
	rm -rf $(TREE)
	mkdir -p $(TREE)
	cp -R "$(NGINX_SRC)"/. $(TREE)/
	cd $(TREE) && \
	if [ -f conf_flags ]; then . ./conf_flags; fi; \
	if [ -x configure ]; then conf=./configure; else conf=auto/configure; fi; \
	$$conf "$${NGX_CONF_FLAGS[@]}" --with-compat $(NGINX_CONFIGURE) \
	    --add-dynamic-module=$(CURDIR) \
	    $(if $(ECHO_SRC),--add-dynamic-module=$(abspath $(ECHO_SRC))) \
	    > ../configure.log 2>&1 || { tail -20 ../configure.log; exit 1; }
	touch $@

# remembers which NGINX_SRC, ECHO_SRC and NGINX_CONFIGURE made the tree
$(BUILD)/.nginx-src: FORCE
	@mkdir -p $(BUILD)
	@echo "$(NGINX_SRC) $(ECHO_SRC) $(NGINX_CONFIGURE)" | cmp -s - $@ || \
	    echo "$(NGINX_SRC) $(ECHO_SRC) $(NGINX_CONFIGURE)" > $@

# installed by rename: an nginx that has the old file loaded keeps it intact

$(MODULE): $(TREE)/.configured $(SOURCES)
	$(MAKE) -s -C $(TREE) -f objs/Makefile modules
	cp $(TREE)/objs/ngx_http_provider_gate_module.so $@.tmp
	mv -f $@.tmp $@

FORCE:

unit: $(UNIT_TESTS)
	@for t in $(UNIT_TESTS); do echo "$$t"; $$t || exit 1; done

$(BUILD)/unit/test_calc: t/unit/test_calc.c src/ngx_http_provider_gate_calc.c \
                         src/ngx_http_provider_gate_calc.h t/unit/pg_test.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -Isrc -o $@ $(filter %.c,$^) -lm

$(BUILD)/unit/test_state: t/unit/test_state.c \
                          src/ngx_http_provider_gate_state.c \
                          src/ngx_http_provider_gate_calc.c \
                          src/ngx_http_provider_gate_state.h \
                          src/ngx_http_provider_gate_calc.h t/unit/pg_test.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -Isrc -o $@ $(filter %.c,$^) -lm

$(BUILD)/unit/test_json: t/unit/test_json.c src/ngx_http_provider_gate_json.c \
                         src/ngx_http_provider_gate_calc.c \
                         src/ngx_http_provider_gate_json.h \
                         src/ngx_http_provider_gate_calc.h t/unit/pg_test.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -Isrc -o $@ $(filter %.c,$^) \
	    $$(pkg-config --cflags --libs libcjson) -lm

$(BUILD)/unit/test_regex: t/unit/test_regex.c \
                          src/ngx_http_provider_gate_regex.c \
                          src/ngx_http_provider_gate_presets.c \
                          src/ngx_http_provider_gate_regex.h \
                          src/ngx_http_provider_gate_presets.h t/unit/pg_test.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -Isrc -o $@ $(filter %.c,$^) \
	    $$(pkg-config --cflags --libs libpcre2-8)

# reads t/fixtures/providers at run time, from the top of the repository
$(BUILD)/unit/test_presets: t/unit/test_presets.c \
                            src/ngx_http_provider_gate_presets.c \
                            src/ngx_http_provider_gate_json.c \
                            src/ngx_http_provider_gate_calc.c \
                            src/ngx_http_provider_gate_presets.h \
                            src/ngx_http_provider_gate_json.h \
                            src/ngx_http_provider_gate_calc.h t/unit/pg_test.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -Isrc -o $@ $(filter %.c,$^) \
	    $$(pkg-config --cflags --libs libcjson) -lpcre2-8 -lm

$(BUILD)/unit/test_report: t/unit/test_report.c \
                           src/ngx_http_provider_gate_report.c \
                           src/ngx_http_provider_gate_report.h \
                           src/ngx_http_provider_gate_calc.h t/unit/pg_test.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -Isrc -o $@ $(filter %.c,$^) -lm

$(BUILD)/unit/test_sha256: t/unit/test_sha256.c \
                           src/ngx_http_provider_gate_sha256.c \
                           src/ngx_http_provider_gate_sha256.h t/unit/pg_test.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -Isrc -o $@ $(filter %.c,$^)

$(BUILD)/unit/test_event: t/unit/test_event.c \
                          src/ngx_http_provider_gate_event.c \
                          src/ngx_http_provider_gate_report.c \
                          src/ngx_http_provider_gate_calc.c \
                          src/ngx_http_provider_gate_event.h \
                          src/ngx_http_provider_gate_report.h \
                          src/ngx_http_provider_gate_calc.h t/unit/pg_test.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -Isrc -o $@ $(filter %.c,$^) \
	    $$(pkg-config --cflags --libs libcjson) -lm

$(BUILD)/unit/test_snapshot: t/unit/test_snapshot.c \
                             src/ngx_http_provider_gate_snapshot.c \
                             src/ngx_http_provider_gate_snapshot.h \
                             src/ngx_http_provider_gate_calc.h t/unit/pg_test.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -Isrc -o $@ $(filter %.c,$^)

$(BUILD)/unit/test_scan: t/unit/test_scan.c src/ngx_http_provider_gate_scan.c \
                         src/ngx_http_provider_gate_json.c \
                         src/ngx_http_provider_gate_calc.c \
                         src/ngx_http_provider_gate_scan.h \
                         src/ngx_http_provider_gate_json.h \
                         src/ngx_http_provider_gate_calc.h t/unit/pg_test.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -Isrc -o $@ $(filter %.c,$^) \
	    $$(pkg-config --cflags --libs libcjson) -lm

# the .t files run under a system Test::Nginx when there is one, under
# the bundled runner in t/lib otherwise

t: $(MODULE)
	@if perl -MTest::Nginx::Socket -e1 2>/dev/null; then inc=; \
	else inc="-I t/lib"; fi; \
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES="$(CURDIR)/$(MODULE) $(ECHO_MODULE)" \
	prove $$inc -r t/

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory t

# faults/*.t: a worker killed mid-poll, reloads under a bounded load; plain
# Test::More files with an nginx of their own, slower than the rest

test-faults: deps
	@$(MAKE) --no-print-directory all
	@TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES="$(CURDIR)/$(MODULE) $(ECHO_MODULE)" \
	prove -v faults/

# Every .t with nginx under memcheck, through TEST_NGINX_USE_VALGRIND as
# upstream test-nginx reads it (./valgrind.suppress; the plain files that
# start nginx themselves through t/helpers/Valgrind.pm).  The bundled
# runner fails a block on a report; upstream's prints the reports on
# stderr, hence the grep of the whole output.  Read timeouts grow ten
# times; files whose point is timing skip themselves.  About 10 times as
# slow as "make t": not in CI's 30 minutes, run it by hand or nightly.

VALGRIND_LOG := $(BUILD)/test-valgrind.log

test-valgrind: deps
	@$(MAKE) --no-print-directory all
	@if perl -MTest::Nginx::Socket -e1 2>/dev/null; then inc=; \
	    export TEST_NGINX_SLEEP=$${TEST_NGINX_SLEEP:-3}; \
	else inc="-I t/lib"; fi; \
	start=$$(date +%s); \
	TEST_NGINX_USE_VALGRIND=$${TEST_NGINX_USE_VALGRIND:-1} \
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES="$(CURDIR)/$(MODULE) $(ECHO_MODULE)" \
	prove $$inc -r t/ 2>&1 | tee $(VALGRIND_LOG); \
	rc=$${PIPESTATUS[0]}; \
	echo "test-valgrind: $$(( $$(date +%s) - start )) s; output in $(VALGRIND_LOG)"; \
	if grep -q '^==[0-9]*==' $(VALGRIND_LOG); then \
	    echo "test-valgrind: valgrind reports above"; exit 1; fi; \
	exit $$rc

# the demo: conf.example with its mock provider, in the foreground

DEMO         := $(BUILD)/demo
DEMO_BALANCE := $(DEMO)/html/kie-balance.json

demo: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(DEMO)/conf $(DEMO)/logs $(DEMO)/html $(DEMO)/modules
	@cp conf.example $(DEMO)/conf/nginx.conf
	@cp $(MODULE) $(DEMO)/modules/
	@echo '{"code":200,"msg":"success","data":225}' > $(DEMO_BALANCE)
	@echo
	@echo "nginx with ngx_http_provider_gate_module on 127.0.0.1:8480"
	@echo "(mock KIE.ai balance: 225 credits, polled every 2s; Ctrl-C stops)"
	@echo
	@echo "  v='localhost:8480/api/v1/generate-video -H Content-Type:application/json'"
	@echo "  curl -i \$$v -d '{\"model\":\"sora-2-pro\",\"resolution\":\"720p\",\"duration\":15}'"
	@echo "                                  # 200: costs 135, 225 - 135 = 90 left"
	@echo "  curl -i \$$v -d '{\"model\":\"sora-2-pro\",\"resolution\":\"720p\",\"duration\":15}'"
	@echo "                                  # 503: the first spent 135 of the 225"
	@echo "                                  # until the next poll (2s) reads 225 again"
	@echo "  curl -i \$$v -d '{\"model\":\"sora-2\",\"resolution\":\"720p\",\"duration\":10}'"
	@echo "                                  # 200: costs 25, which 90 can pay"
	@echo "  echo '{\"code\":200,\"msg\":\"success\",\"data\":100}' > $(DEMO_BALANCE)"
	@echo "  curl -i \$$v -d '{\"model\":\"sora-2-pro\",\"resolution\":\"1080p\",\"duration\":15}'"
	@echo "                                  # 503 after a poll: 300 > 100"
	@echo "  echo '{\"code\":200,\"msg\":\"success\",\"data\":10000}' > $(DEMO_BALANCE)"
	@echo "  curl -i \$$v -d '{\"model\":\"sora-2-pro\",\"resolution\":\"1080p\",\"duration\":15}'"
	@echo "                                  # open again"
	@echo "  curl -s localhost:8480/provider-gate/status      # every provider, JSON"
	@echo "  (a browser on http://127.0.0.1:8480/provider-gate/status: the HTML page)"
	@echo "  curl -X POST localhost:8480/provider-gate/refresh?provider=kie"
	@echo "                                  # after a top-up: polls at once"
	@echo "  tail -f $(DEMO)/logs/webhooks.log                # one POST per change"
	@echo "  tail -f $(DEMO)/logs/access.log   # balance: the last poll; available:"
	@echo "                                    # less what was spent since"
	@echo
	KIE_API_KEY=demo-key-not-a-secret $(NGINX_BIN) -p $(CURDIR)/$(DEMO)/ \
	    -c conf/nginx.conf -g 'daemon off; error_log stderr notice;'

# install, uninstall, deb, test-deb: see docs/install.md
#
#   make install    the .so into nginx's modules directory; on Debian's
#                   layout also modules-available/ and the modules-enabled/
#                   link; elsewhere it prints the load_module line to add
#   make uninstall  removes what make install put there
#   make deb        build/libnginx-mod-http-provider-gate_VERSION_ARCH.deb
#   make test-deb   (root) installs that package into the system nginx,
#                   runs it with its own configuration, removes it again

# the one place the version is written; the package takes it from there
VERSION      := $(shell sed -n 's/^\#define NGX_HTTP_PROVIDER_GATE_VERSION *"\(.*\)"$$/\1/p' \
                    src/ngx_http_provider_gate.h)

# nginx's modules directory, as the nginx that will load the module says:
# its --modules-path, or PREFIX/modules when it was configured without one
MODULES_DIR  ?= $(shell v=$$($(NGINX_BIN) -V 2>&1 | tr ' ' '\n'); \
                    m=$$(sed -n 's/^--modules-path=//p' <<< "$$v"); \
                    p=$$(sed -n 's/^--prefix=//p' <<< "$$v"); \
                    echo "$${m:-$${p:-/usr/local/nginx}/modules}")

# Debian's layout (nginx-common): a load file in modules-available and a
# link to it in modules-enabled, which nginx.conf includes at the top.
# The package build sets MODULE_ENABLE=no: its postinst makes the link.
NGINX_LAYOUT      ?= $(if $(wildcard /etc/nginx/modules-enabled/.),debian,plain)
MODULES_AVAILABLE ?= /usr/share/nginx/modules-available
MODULES_ENABLED   ?= /etc/nginx/modules-enabled
MODULE_ENABLE     ?= yes
INSTALL_SO        ?= $(MODULE)
INSTALL           ?= install

PKG          := libnginx-mod-http-provider-gate
SO_NAME      := ngx_http_provider_gate_module.so
LOAD_CONF    := mod-http-provider-gate.conf
# dh_nginx's name for the link of an http module, priority 50
LOAD_LINK    := 50-$(LOAD_CONF)

.PHONY: install uninstall deb test-deb

# refuses to write over, or remove, the files of the installed package
define pg_no_package
	@if [ -z "$(DESTDIR)" ] && dpkg-query -W -f='$${Status}' $(PKG) \
	        2>/dev/null | grep -q 'ok installed'; then \
	    echo "the package $(PKG) is installed; remove it first:" \
	         "apt-get remove $(PKG)" >&2; \
	    exit 1; \
	fi
endef

install: $(INSTALL_SO)
	$(pg_no_package)
	@set -e; dir="$(MODULES_DIR)"; \
	line="load_module $$dir/$(SO_NAME);"; \
	$(INSTALL) -d "$(DESTDIR)$$dir"; \
	$(INSTALL) -m 644 $(INSTALL_SO) "$(DESTDIR)$$dir/$(SO_NAME)"; \
	echo "installed $(DESTDIR)$$dir/$(SO_NAME)"; \
	if [ "$(NGINX_LAYOUT)" = debian ]; then \
	    $(INSTALL) -d "$(DESTDIR)$(MODULES_AVAILABLE)"; \
	    echo "$$line" > "$(DESTDIR)$(MODULES_AVAILABLE)/$(LOAD_CONF)"; \
	    chmod 644 "$(DESTDIR)$(MODULES_AVAILABLE)/$(LOAD_CONF)"; \
	    echo "installed $(DESTDIR)$(MODULES_AVAILABLE)/$(LOAD_CONF)"; \
	    if [ "$(MODULE_ENABLE)" = yes ]; then \
	        $(INSTALL) -d "$(DESTDIR)$(MODULES_ENABLED)"; \
	        ln -sfn "$(MODULES_AVAILABLE)/$(LOAD_CONF)" \
	            "$(DESTDIR)$(MODULES_ENABLED)/$(LOAD_LINK)"; \
	        echo "enabled in $(DESTDIR)$(MODULES_ENABLED)/$(LOAD_LINK);" \
	             "then: nginx -t && systemctl reload nginx"; \
	    fi; \
	else \
	    echo "add this line at the top of nginx.conf (main context):"; \
	    echo; echo "    $$line"; echo; \
	fi

uninstall:
	$(pg_no_package)
	rm -f "$(DESTDIR)$(MODULES_ENABLED)/$(LOAD_LINK)" \
	      "$(DESTDIR)$(MODULES_AVAILABLE)/$(LOAD_CONF)" \
	      "$(DESTDIR)$(MODULES_DIR)/$(SO_NAME)"

# The package is built from a copy in build/deb/, with debian/changelog
# made there from CHANGES and VERSION, so that dpkg-buildpackage, which
# writes to "..", writes into build/deb/; the results land in build/.

DEB_ARCH      = $(shell dpkg-architecture -qDEB_HOST_ARCH)
DEB_STAGE    := $(BUILD)/deb/$(PKG)-$(VERSION)
DEB           = $(BUILD)/$(PKG)_$(VERSION)_$(DEB_ARCH).deb
DEB_COPY     := config src debian LICENSE README.md CHANGES conf.example docs \
                Makefile fuzz/fuzz.mk t/unit t/fixtures
# dpkg-buildpackage and debhelper come with nginx-dev (dh-sequence-nginx)
DEB_PACKAGES += dpkg-dev debhelper build-essential

deb: deps
	rm -rf $(BUILD)/deb
	mkdir -p $(DEB_STAGE)
	cp -R --parents $(DEB_COPY) $(DEB_STAGE)/
	debian/make-changelog CHANGES $(VERSION) debian/control \
	    > $(DEB_STAGE)/debian/changelog
	cd $(DEB_STAGE) && dpkg-buildpackage -b --no-sign
	cp $(BUILD)/deb/*.deb $(BUILD)/deb/*.buildinfo $(BUILD)/deb/*.changes \
	    $(BUILD)/
	@echo; echo "built $(DEB)"; dpkg-deb -f $(DEB) Package Version Depends

# the port of the test's own nginx; its mock provider is the next one
DEB_TEST_PORT ?= 8490

test-deb: deb
	prove -v t/deb-install.pl :: $(DEB) $(VERSION) $(DEB_TEST_PORT)

# make bench: callgrind, wrk, a slow provider, scale and the status page
# side by side on this machine, one table printed and written to
# bench/results/ (docs/performance.md explains it).  5 to 8 minutes;
# BENCH_QUICK=1 takes about 2, for development only.  Never part of
# make test: it loads the machine.

BENCH_PACKAGES := valgrind wrk curl python3 libnginx-mod-http-lua \
                  libnginx-mod-http-ndk libnginx-mod-http-echo

bench-deps:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(BENCH_PACKAGES)"

bench: deps bench-deps
	@$(MAKE) --no-print-directory all
	NGINX_BIN=$(NGINX_BIN) MODULE=$(CURDIR)/$(MODULE) bench/run

clean:
	rm -rf $(BUILD) t/servroot

