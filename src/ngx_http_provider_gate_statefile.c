
/*
 * Copyright (C) provider-gate developers
 *
 * The state file of "provider_gate_zone ... state=PATH": what a restart
 * or a binary upgrade needs to decide on the last known balance at once
 * rather than start every provider UNKNOWN.
 *
 * It is read by the master when it creates a fresh zone (a start, a
 * change of the zone's size, USR2's new binary), never into a zone that
 * survived a reload.  It is written by workers: whichever takes the
 * zone's save lease, at most once a second after a change of state,
 * balance or latch, and every 30 seconds while polls keep answering, so
 * that the file's balances stay as fresh as the zone's.  A write is a
 * temporary file of the writer's pid, fsync(), rename(): a reader sees
 * the old file or the new one, and two generations writing during a
 * binary upgrade never mix their lines.  The header's generation tells
 * which zone wrote it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_provider_gate.h"
#include "ngx_http_provider_gate_snapshot.h"


/* a change is saved no sooner than this after the last save */
#define NGX_HTTP_PROVIDER_GATE_SAVE_GAP     1000

/* and the balances are saved again this often while polls answer */
#define NGX_HTTP_PROVIDER_GATE_SAVE_EVERY   30000

/* a writer that died mid-write leaves a lease that expires */
#define NGX_HTTP_PROVIDER_GATE_SAVE_LEASE   10000

/* the largest state file read: hundreds of thousands of providers' */
#define NGX_HTTP_PROVIDER_GATE_STATE_MAX    (64 * 1024 * 1024)


static int ngx_libc_cdecl ngx_http_provider_gate_statefile_cmp(
    const void *one, const void *two);
static void ngx_http_provider_gate_statefile_restore(
    ngx_http_provider_gate_provider_t *p, pg_snapshot_rec_t *r,
    uint64_t wall);
static uint64_t ngx_http_provider_gate_statefile_msec(uint64_t wall,
    uint64_t t);
static uint64_t ngx_http_provider_gate_statefile_wall(uint64_t wall,
    uint64_t t);
static uint64_t ngx_http_provider_gate_statefile_now(void);
static ngx_uint_t ngx_http_provider_gate_statefile_due(
    ngx_http_provider_gate_shctx_t *sh, ngx_msec_t now);
static uint64_t ngx_http_provider_gate_statefile_limit(
    ngx_http_provider_gate_provider_t *p, pg_snapshot_rec_t *r);


/*
 * In the master, with the zone mutex held, for a zone just created:
 * each configured provider whose record is in the file, and whose file
 * is younger than the provider's stale_after, starts from that record.
 * A missing file is the first start; a file that cannot be read or
 * parsed is logged and ignored: the providers start UNKNOWN as without
 * one.
 */

void
ngx_http_provider_gate_statefile_load(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_log_t *log)
{
    u_char                              *text, *p, *last;
    size_t                               size, lines;
    ssize_t                              n;
    uint64_t                             wall, age;
    ngx_fd_t                             fd;
    ngx_err_t                            err;
    ngx_uint_t                           i, restored, old;
    ngx_file_info_t                      fi;
    pg_snapshot_rec_t                   *recs, key, *r;
    pg_snapshot_head_t                   head;
    ngx_http_provider_gate_provider_t  **providers;

    if (pmcf->state_file.len == 0 || ngx_test_config) {
        return;
    }

    fd = ngx_open_file(pmcf->state_file.data, NGX_FILE_RDONLY,
                       NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;

        if (err == NGX_ENOENT) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "provider_gate: no state file \"%V\" yet, "
                          "providers start UNKNOWN", &pmcf->state_file);

        } else {
            ngx_log_error(NGX_LOG_WARN, log, err,
                          "provider_gate: ignoring the state file \"%V\", "
                          ngx_open_file_n " failed", &pmcf->state_file);
        }

        return;
    }

    text = NULL;
    recs = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "provider_gate: ignoring the state file \"%V\", "
                      ngx_fd_info_n " failed", &pmcf->state_file);
        goto done;
    }

    size = (size_t) ngx_file_size(&fi);

    if (size > NGX_HTTP_PROVIDER_GATE_STATE_MAX) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "provider_gate: ignoring the state file \"%V\" of %uz "
                      "bytes, larger than any it writes",
                      &pmcf->state_file, size);
        goto done;
    }

    text = ngx_alloc(size + 1, log);
    if (text == NULL) {
        goto done;
    }

    for (p = text, last = text + size; p < last; p += n) {
        n = ngx_read_fd(fd, p, last - p);

        if (n == -1 || n == 0) {
            ngx_log_error(NGX_LOG_WARN, log, n ? ngx_errno : 0,
                          "provider_gate: ignoring the state file \"%V\", "
                          "it could not be read", &pmcf->state_file);
            goto done;
        }
    }

    /* a record per line at most */

    for (lines = 1, p = text; p < last; p++) {
        lines += (*p == '\n');
    }

    recs = ngx_alloc(lines * sizeof(pg_snapshot_rec_t), log);
    if (recs == NULL) {
        goto done;
    }

    n = pg_snapshot_parse((char *) text, size, &head, recs, lines);

    if (n != PG_SNAPSHOT_OK) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "provider_gate: ignoring the state file \"%V\": %s",
                      &pmcf->state_file, pg_snapshot_strerror((int) n));
        goto done;
    }

    /* found by name in O(log N) each: 10,000 providers start quickly */

    ngx_qsort(recs, head.count, sizeof(pg_snapshot_rec_t),
              ngx_http_provider_gate_statefile_cmp);

    wall = ngx_http_provider_gate_statefile_now();
    age = (wall > head.written) ? wall - head.written : 0;

    providers = pmcf->providers.elts;
    restored = 0;
    old = 0;

    for (i = 0; i < pmcf->providers.nelts; i++) {
        key.name = (char *) providers[i]->name.data;
        key.name_len = providers[i]->name.len;

        r = bsearch(&key, recs, head.count, sizeof(pg_snapshot_rec_t),
                    ngx_http_provider_gate_statefile_cmp);
        if (r == NULL) {
            continue;
        }

        if (age > ngx_http_provider_gate_statefile_limit(providers[i], r)) {
            old++;
            continue;
        }

        ngx_http_provider_gate_statefile_restore(providers[i], r, wall);
        restored++;
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "provider_gate: %ui of %ui providers start from the state "
                  "file \"%V\", written %uL ms ago by generation %uL",
                  restored, pmcf->providers.nelts, &pmcf->state_file, age,
                  head.generation);

    if (old) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "provider_gate: the state file \"%V\" is older than "
                      "the stale_after of %ui providers, which start "
                      "UNKNOWN", &pmcf->state_file, old);
    }

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &pmcf->state_file);
    }

    if (text) {
        ngx_free(text);
    }

    if (recs) {
        ngx_free(recs);
    }
}


static int ngx_libc_cdecl
ngx_http_provider_gate_statefile_cmp(const void *one, const void *two)
{
    int                       rc;
    const pg_snapshot_rec_t  *a = one, *b = two;

    rc = ngx_memcmp(a->name, b->name, ngx_min(a->name_len, b->name_len));

    if (rc != 0) {
        return rc;
    }

    return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}


/*
 * A record into a fresh, zeroed node.  "avail" keeps its meaning with the
 * zone's debit total at 0: base is set so that balance - (0 - base) is
 * the saved available amount, and the first poll's answer moves it by
 * the usual delta.  Latch times were saved as wall-clock times and come
 * back on the monotonic clock, as far in the past as they were.
 */

static void
ngx_http_provider_gate_statefile_restore(ngx_http_provider_gate_provider_t *p,
    pg_snapshot_rec_t *r, uint64_t wall)
{
    uint64_t                        since_ok, fresh;
    unsigned                        state;
    pg_amount_t                     avail;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;
    state = r->state;

    if (p->has_balance && r->has_balance && r->last_ok) {
        avail = ngx_min(r->available, r->balance);

        node->balance = r->balance;
        node->avail = (ngx_atomic_uint_t) avail;
        node->base = (uint64_t) avail - (uint64_t) r->balance;
        node->last_ok = r->last_ok;

        since_ok = (wall > r->last_ok) ? wall - r->last_ok : 0;
        fresh = pg_state_fresh_for(&p->intervals, state);

        node->fresh_until = ngx_current_msec
                            + (ngx_msec_t) (fresh > since_ok
                                            ? fresh - since_ok : 0);

        pg_history_add(&node->history, r->last_ok, r->balance);

    } else if (p->has_balance) {
        /* a balance endpoint and no balance: nothing to decide on */
        state = PG_STATE_UNKNOWN;

    } else if (state == PG_STATE_UNKNOWN) {
        state = PG_STATE_OK;
    }

    node->state = state;

    node->latch.latched = r->latched ? 1 : 0;
    node->latch.disputed = r->disputed ? 1 : 0;
    node->latch.hold = r->hold;
    node->latch.since = ngx_http_provider_gate_statefile_msec(wall, r->since);
    node->latch.last_hit = ngx_http_provider_gate_statefile_msec(wall,
                                                                 r->last_hit);
    node->latch.reopened = ngx_http_provider_gate_statefile_msec(wall,
                                                                 r->reopened);
    node->latch.epoch = r->epoch;

    node->latch_due = (ngx_atomic_uint_t) pg_latch_due(&node->latch,
                                                       node->state, &p->latch);

    /* reminders (repeat=) of an EXHAUSTED provider count from the start */

    if (state == PG_STATE_EXHAUSTED) {
        node->alert_since = ngx_current_msec ? ngx_current_msec : 1;
    }

    /* the next poll, at once, confirms or corrects what was restored */

    node->next_poll = ngx_current_msec;
}


/*
 * How old a record may be and still be used: as long as its balance
 * would have stayed fresh in its state (longer in EXHAUSTED, whose polls
 * are further apart); for a provider without a balance endpoint, as long
 * as a latch may hold.
 */

static uint64_t
ngx_http_provider_gate_statefile_limit(ngx_http_provider_gate_provider_t *p,
    pg_snapshot_rec_t *r)
{
    if (p->has_balance) {
        return pg_state_fresh_for(&p->intervals, r->state);
    }

    return ngx_max(p->stale_after, p->latch.hold_max);
}


/* a wall-clock time of the past on the monotonic clock; 0 stays 0 */

static uint64_t
ngx_http_provider_gate_statefile_msec(uint64_t wall, uint64_t t)
{
    uint64_t  ago;

    if (t == 0) {
        return 0;
    }

    ago = (wall > t) ? wall - t : 0;

    return (ngx_current_msec > ago) ? ngx_current_msec - ago : 1;
}


/* and back */

static uint64_t
ngx_http_provider_gate_statefile_wall(uint64_t wall, uint64_t t)
{
    uint64_t  ago;

    if (t == 0) {
        return 0;
    }

    ago = (ngx_current_msec > t) ? ngx_current_msec - t : 0;

    return (wall > ago) ? wall - ago : 1;
}


static uint64_t
ngx_http_provider_gate_statefile_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


/*
 * From a worker's scheduler tick: writes the file when the zone changed
 * since the last save and a second has passed, or every 30 seconds, and
 * this worker takes the save lease.  The records are copied under the
 * mutex and written outside it.  A failure is logged once per kind of
 * error and tried again a second later.
 */

void
ngx_http_provider_gate_statefile_save(ngx_http_provider_gate_main_conf_t *pmcf)
{
    u_char                              *buf, *p, *tmp;
    size_t                               size;
    ssize_t                              n;
    uint64_t                             wall, changes, generation;
    ngx_fd_t                             fd;
    ngx_err_t                            err;
    ngx_msec_t                           now;
    ngx_uint_t                           i, ok, seq, log;
    const char                          *what;
    pg_snapshot_rec_t                   *recs, *r;
    pg_snapshot_writer_t                 w;
    ngx_http_provider_gate_node_t       *node;
    ngx_http_provider_gate_shctx_t      *sh;
    ngx_http_provider_gate_provider_t  **providers;

    sh = pmcf->sh;
    now = ngx_current_msec;

    if (pmcf->state_file.len == 0
        || !ngx_http_provider_gate_statefile_due(sh, now))
    {
        return;
    }

    providers = pmcf->providers.elts;

    size = PG_SNAPSHOT_HEAD_MAX + PG_SNAPSHOT_TAIL_MAX;

    for (i = 0; i < pmcf->providers.nelts; i++) {
        size += PG_SNAPSHOT_LINE_MAX + 2 + providers[i]->name.len;
    }

    recs = ngx_alloc(pmcf->providers.nelts * sizeof(pg_snapshot_rec_t)
                     + size + pmcf->state_file.len + NGX_INT64_LEN + 6,
                     ngx_cycle->log);
    if (recs == NULL) {
        return;
    }

    buf = (u_char *) (recs + pmcf->providers.nelts);
    tmp = buf + size;

    wall = ngx_http_provider_gate_statefile_now();

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    /* another worker may have saved between the look and the lock */

    if (!ngx_http_provider_gate_statefile_due(sh, now)) {
        ngx_shmtx_unlock(&pmcf->shpool->mutex);
        ngx_free(recs);
        return;
    }

    sh->save_expire = now + NGX_HTTP_PROVIDER_GATE_SAVE_LEASE;
    seq = ++sh->save_seq;
    changes = sh->changes;
    generation = sh->generation;

    for (i = 0; i < pmcf->providers.nelts; i++) {
        node = providers[i]->node;
        r = &recs[i];

        r->name = (char *) providers[i]->name.data;
        r->name_len = providers[i]->name.len;
        r->state = (unsigned) node->state;
        r->has_balance = (node->last_ok != 0);
        r->balance = node->balance;
        r->available = (pg_amount_t) node->avail;
        r->last_ok = node->last_ok;
        r->latched = node->latch.latched;
        r->disputed = node->latch.disputed;
        r->hold = node->latch.hold;
        r->since = ngx_http_provider_gate_statefile_wall(wall,
                                                         node->latch.since);
        r->last_hit = ngx_http_provider_gate_statefile_wall(wall,
                                                      node->latch.last_hit);
        r->reopened = ngx_http_provider_gate_statefile_wall(wall,
                                                      node->latch.reopened);
        r->epoch = node->latch.epoch;
    }

    ngx_shmtx_unlock(&pmcf->shpool->mutex);

    /* the text, then the temporary file beside the real one */

    pg_snapshot_begin(&w);

    p = buf + pg_snapshot_header(&w, (char *) buf, generation, wall);

    for (i = 0; i < pmcf->providers.nelts; i++) {
        p += pg_snapshot_record(&w, (char *) p, &recs[i]);
    }

    p += pg_snapshot_trailer(&w, (char *) p);

    (void) ngx_sprintf(tmp, "%V.%P.tmp%Z", &pmcf->state_file, ngx_pid);

    ok = 0;
    err = 0;
    what = NULL;

    /*
     * A new file, never one that is there already: a temporary file left
     * by a worker that was killed goes first, and a symbolic link put in
     * its place is not followed.
     */

    (void) ngx_delete_file(tmp);

    fd = open((char *) tmp, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW, 0600);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        what = ngx_open_file_n;

    } else {
        for (buf = (u_char *) (recs + pmcf->providers.nelts); buf < p;
             buf += n)
        {
            n = ngx_write_fd(fd, buf, p - buf);

            if (n <= 0) {
                err = (n == 0) ? NGX_ENOSPC : ngx_errno;
                what = ngx_write_fd_n;
                break;
            }
        }

        if (what == NULL && fsync(fd) == -1) {
            err = ngx_errno;
            what = "fsync()";
        }

        if (ngx_close_file(fd) == NGX_FILE_ERROR && what == NULL) {
            err = ngx_errno;
            what = ngx_close_file_n;
        }

        if (what == NULL) {
            if (ngx_rename_file(tmp, pmcf->state_file.data)
                == NGX_FILE_ERROR)
            {
                err = ngx_errno;
                what = ngx_rename_file_n;

            } else {
                ok = 1;
            }
        }

        if (!ok) {
            (void) ngx_delete_file(tmp);
        }
    }

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    /* a save that outlived its lease leaves the next writer's alone */

    if (sh->save_seq == seq) {
        sh->save_expire = 0;
    }

    sh->saved_at = now;

    if (ok) {
        sh->saved = changes;
    }

    /* one line per kind of failure, and one when it works again */

    log = 0;

    if (!ok && err != sh->save_err) {
        log = 2;

    } else if (ok && sh->save_err) {
        log = 1;
    }

    sh->save_err = ok ? 0 : err;

    ngx_shmtx_unlock(&pmcf->shpool->mutex);

    if (log == 2) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, err,
                      "provider_gate: cannot write the state file \"%s\", "
                      "%s failed", tmp, what);

    } else if (log == 1) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "provider_gate: the state file \"%V\" is written again",
                      &pmcf->state_file);
    }

    ngx_free(recs);
}


/*
 * Whether a save is due: a change and a second since the last save, or
 * 30 seconds, and nobody else saving.  Read with or without the mutex;
 * times compared as signed differences, like nginx's timers.
 */

static ngx_uint_t
ngx_http_provider_gate_statefile_due(ngx_http_provider_gate_shctx_t *sh,
    ngx_msec_t now)
{
    ngx_msec_int_t  since;

    if (sh->save_expire && (ngx_msec_int_t) (sh->save_expire - now) > 0) {
        return 0;
    }

    if (sh->saved_at == 0) {
        return 1;
    }

    since = (ngx_msec_int_t) (now - sh->saved_at);

    if (since < NGX_HTTP_PROVIDER_GATE_SAVE_GAP) {
        return 0;
    }

    return sh->changes != sh->saved
           || since >= NGX_HTTP_PROVIDER_GATE_SAVE_EVERY;
}


/*
 * In the master at every (re)load, after the configuration is read and
 * before the workers start: the state file's directory is made if it is
 * missing, and given to the workers' user, who write the file; one that
 * exists is left as it is, and a worker that cannot write there says
 * so.  The master itself only reads the file.
 */

ngx_int_t
ngx_http_provider_gate_statefile_prepare(ngx_cycle_t *cycle,
    ngx_http_provider_gate_main_conf_t *pmcf)
{
    int               fd;
    u_char           *dir, *p, *last, *end;
    ngx_err_t         err;
    struct stat       st;
    ngx_core_conf_t  *ccf;

    if (pmcf->state_file.len == 0 || ngx_test_config) {
        return NGX_OK;
    }

    /* a full name: its last "/" ends the directory, "/" itself excluded */

    last = NULL;
    end = pmcf->state_file.data + pmcf->state_file.len;

    for (p = pmcf->state_file.data + 1; p < end; p++) {
        if (*p == '/') {
            last = p;
        }
    }

    if (last == NULL) {
        return NGX_OK;
    }

    dir = ngx_pnalloc(cycle->pool, last - pmcf->state_file.data + 1);
    if (dir == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(dir, pmcf->state_file.data, last - pmcf->state_file.data)
        = '\0';

    if (ngx_create_dir(dir, 0700) == NGX_FILE_ERROR) {
        err = ngx_errno;

        if (err != NGX_EEXIST) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, err,
                          "provider_gate: " ngx_create_dir_n " \"%s\" for "
                          "the state file failed", dir);
            return NGX_ERROR;
        }

        /*
         * The master reads what is there as root: a directory others may
         * write to would let them choose every provider's balance.
         */

        if (lstat((char *) dir, &st) == -1) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "provider_gate: lstat(\"%s\") for the state file "
                          "failed", dir);
            return NGX_ERROR;
        }

        ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx,
                                               ngx_core_module);

        if (!S_ISDIR(st.st_mode) || (st.st_mode & (S_IWGRP|S_IWOTH))
            || (st.st_uid != 0 && st.st_uid != geteuid()
                && st.st_uid != ccf->user))
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "provider_gate: \"%s\", the state file's "
                          "directory, is %s: give the state file a "
                          "directory of its own", dir,
                          !S_ISDIR(st.st_mode) ? "not a directory"
                          : (st.st_mode & (S_IWGRP|S_IWOTH))
                            ? "writable by group or others"
                            : "owned by another user");
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (geteuid() != 0 || ccf->user == (ngx_uid_t) NGX_CONF_UNSET_UINT) {
        return NGX_OK;
    }

    /* the directory just made, not whatever may have replaced it since */

    fd = open((char *) dir, O_RDONLY|O_DIRECTORY|O_NOFOLLOW);

    if (fd == -1 || fchown(fd, ccf->user, ccf->group) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "provider_gate: chown(\"%s\") for the state file "
                      "failed", dir);

        if (fd != -1) {
            (void) close(fd);
        }

        return NGX_ERROR;
    }

    (void) close(fd);

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "provider_gate: made \"%s\" for the state file", dir);

    return NGX_OK;
}
