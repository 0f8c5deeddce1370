
/*
 * Copyright (C) provider-gate developers
 *
 * Secrets named in the configuration as env:NAME or file:PATH, never
 * written in nginx.conf itself.  The master reads them at every (re)load:
 * a key rotated in its file needs a reload, not a restart, and a file
 * only root may read still works once the workers have dropped
 * privileges.  The same whole-file reader serves files that are not
 * secret (a CA bundle).
 *
 * No function here logs a secret's bytes, at any level: messages name
 * the variable or the file, and the caller's subject ("what").  The one
 * temporary copy, the file reader's buffer, is zeroed before it is freed;
 * the secret itself is zeroed when the configuration's pool is destroyed
 * (an old cycle after a reload, a worker's at its exit).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_provider_gate.h"


static ngx_int_t ngx_http_provider_gate_secret_env(ngx_conf_t *cf,
    ngx_str_t *name, ngx_str_t *what, size_t max, ngx_str_t *out);
static ngx_int_t ngx_http_provider_gate_secret_file(ngx_conf_t *cf,
    ngx_str_t *name, ngx_str_t *what, size_t max, ngx_uint_t secret,
    ngx_str_t *out);
static void ngx_http_provider_gate_secret_cleanup(void *data);


/*
 * source: "env:NAME" or "file:PATH", a configuration word, so that it is
 * NUL-terminated; what: the subject of the messages, for example
 * "credential of provider \"kie\""; max: the largest secret, in bytes.
 *
 * A file loses its trailing white space, which editors leave.  Neither
 * source may hold a control character: a secret goes into header lines
 * and URLs, where a line break would end the line.  "out" is allocated
 * from cf->pool and NUL-terminated, the NUL not counted in out->len;
 * it is zeroed when cf->pool is destroyed.
 *
 * NGX_DECLINED: the source has neither prefix and nothing was logged, so
 * that the caller can say what its directive accepts.
 */

ngx_int_t
ngx_http_provider_gate_secret_read(ngx_conf_t *cf, ngx_str_t *source,
    ngx_str_t *what, size_t max, ngx_str_t *out)
{
    u_char               c;
    ngx_int_t            rc;
    ngx_str_t            name;
    ngx_uint_t           i;
    ngx_pool_cleanup_t  *cln;

    if (source->len > sizeof("env:") - 1
        && ngx_strncmp(source->data, "env:", sizeof("env:") - 1) == 0)
    {
        name.data = source->data + sizeof("env:") - 1;
        name.len = source->len - (sizeof("env:") - 1);

        rc = ngx_http_provider_gate_secret_env(cf, &name, what, max, out);

    } else if (source->len > sizeof("file:") - 1
               && ngx_strncmp(source->data, "file:", sizeof("file:") - 1)
                  == 0)
    {
        name.data = source->data + sizeof("file:") - 1;
        name.len = source->len - (sizeof("file:") - 1);

        rc = ngx_http_provider_gate_secret_file(cf, &name, what, max, 1, out);

        if (rc == NGX_OK) {
            while (out->len) {
                c = out->data[out->len - 1];

                if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
                    break;
                }

                out->len--;
            }

            out->data[out->len] = '\0';
        }

    } else {
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    for (i = 0; i < out->len; i++) {
        if (out->data[i] < 0x20 || out->data[i] == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%V holds a control character (a line "
                               "break?)", what);
            goto failed;
        }
    }

    if (out->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V is empty", what);
        goto failed;
    }

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_str_t));
    if (cln == NULL) {
        goto failed;
    }

    *(ngx_str_t *) cln->data = *out;
    cln->handler = ngx_http_provider_gate_secret_cleanup;

    return NGX_OK;

failed:

    /* the configuration fails, but its pool may outlive this message */

    ngx_explicit_memzero(out->data, out->len);
    ngx_str_null(out);

    return NGX_ERROR;
}


static void
ngx_http_provider_gate_secret_cleanup(void *data)
{
    ngx_str_t  *secret = data;

    ngx_explicit_memzero(secret->data, secret->len);
}


/*
 * Only a variable that an "env" directive keeps, or sets as NAME=value,
 * is read: the operator says what nginx may take from its environment,
 * and that list is the one the workers get too.
 */

static ngx_int_t
ngx_http_provider_gate_secret_env(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *what, size_t max, ngx_str_t *out)
{
    u_char           *v;
    size_t            len;
    ngx_str_t        *env;
    ngx_uint_t        i;
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    env = ccf->env.elts;
    v = NULL;

    for (i = 0; i < ccf->env.nelts; i++) {

        if (env[i].len < name->len
            || ngx_strncmp(env[i].data, name->data, name->len) != 0)
        {
            continue;
        }

        if (env[i].len == name->len) {
            /* the name ends a configuration word: NUL-terminated */
            v = (u_char *) getenv((char *) name->data);
            break;
        }

        if (env[i].data[name->len] == '=') {
            v = env[i].data + name->len + 1;
            break;
        }
    }

    if (i == ccf->env.nelts) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V: environment variable \"%V\" is not kept, "
                           "add \"env %V;\" before the http block",
                           what, name, name);
        return NGX_ERROR;
    }

    if (v == NULL || *v == '\0') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V: environment variable \"%V\" is not set or "
                           "empty", what, name);
        return NGX_ERROR;
    }

    len = ngx_strlen(v);

    if (len > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V: environment variable \"%V\" is larger than "
                           "%uz bytes", what, name, max);
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(cf->pool, len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, v, len + 1);
    out->len = len;

    return NGX_OK;
}


/*
 * Reads a whole file of at most "max" bytes, relative to the
 * configuration's prefix, into "out", allocated from cf->pool to its
 * size and NUL-terminated, the NUL not counted.  "name" is the tail of
 * a configuration word, so NUL-terminated.  An empty file is an error.
 */

ngx_int_t
ngx_http_provider_gate_secret_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *what, size_t max, ngx_str_t *out)
{
    return ngx_http_provider_gate_secret_file(cf, name, what, max, 0, out);
}


/*
 * "secret": the file holds a credential, and one that group or others
 * may read is worth a warning: the master reads it as root, nobody else
 * needs to.
 */

static ngx_int_t
ngx_http_provider_gate_secret_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *what, size_t max, ngx_uint_t secret, ngx_str_t *out)
{
    u_char           *buf;
    size_t            n, size;
    ssize_t           rd;
    ngx_uint_t        mode;
    ngx_fd_t          fd;
    ngx_int_t         rc;
    ngx_str_t         path;
    ngx_file_info_t   fi;

    path = *name;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%V: " ngx_open_file_n " \"%V\" failed",
                           what, &path);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    n = 0;
    buf = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%V: " ngx_fd_info_n " \"%V\" failed",
                           what, &path);
        goto close_file;
    }

    mode = ngx_file_access(&fi);

    if (secret && (mode & 0044)) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "%V: file \"%V\" may be read by its group or by "
                           "others (mode 0%ui%ui%ui), it should be 0600 or "
                           "0400", what, &path, (mode >> 6) & 7,
                           (mode >> 3) & 7, mode & 7);
    }

    /*
     * A regular file is read at its size, and one byte more tells that it
     * grew or is too large; anything else (a pipe) up to "max".  The
     * buffer is the heap's, not the pool's, so that it can be zeroed and
     * given back once its bytes are copied at their own size.
     */

    size = max;

    if (ngx_is_file(&fi)) {
        if (ngx_file_size(&fi) > (off_t) max) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%V: file \"%V\" is larger than %uz bytes",
                               what, &path, max);
            goto close_file;
        }

        size = (size_t) ngx_file_size(&fi);
    }

    buf = ngx_alloc(size + 1, cf->log);
    if (buf == NULL) {
        goto close_file;
    }

    for ( ;; ) {
        rd = ngx_read_fd(fd, buf + n, size + 1 - n);

        if (rd == -1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "%V: " ngx_read_fd_n " \"%V\" failed",
                               what, &path);
            goto release;
        }

        if (rd == 0) {
            break;
        }

        n += rd;

        if (n > size) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               size < max
                               ? "%V: file \"%V\" grew while it was read"
                               : "%V: file \"%V\" is larger than %uz bytes",
                               what, &path, max);
            goto release;
        }
    }

    if (n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V: file \"%V\" is empty", what, &path);
        goto release;
    }

    out->data = ngx_pnalloc(cf->pool, n + 1);
    if (out->data == NULL) {
        goto release;
    }

    ngx_memcpy(out->data, buf, n);
    out->data[n] = '\0';
    out->len = n;

    rc = NGX_OK;

release:

    ngx_explicit_memzero(buf, n);
    ngx_free(buf);

close_file:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &path);
    }

    return rc;
}
