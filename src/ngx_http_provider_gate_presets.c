
/*
 * Copyright (C) provider-gate developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_provider_gate.h"


/*
 * What each provider documents about its balance endpoint.  A preset
 * only fills what the provider block leaves unset, so an operator can
 * override any field; the credential always comes from the operator.
 */

static ngx_http_provider_gate_preset_t  ngx_http_provider_gate_presets[] = {

    /* KIE.ai: {"code":200,"msg":"success","data":225} */
    { ngx_string("kie"),
      ngx_string("https://api.kie.ai/api/v1/chat/credit"),
      ngx_string("GET"),
      NGX_HTTP_PROVIDER_GATE_AUTH_BEARER, ngx_null_string, ngx_null_string,
      ngx_string("data"),
      ngx_string("code=200") },

    { ngx_null_string, ngx_null_string, ngx_null_string, 0,
      ngx_null_string, ngx_null_string, ngx_null_string, ngx_null_string }
};


ngx_http_provider_gate_preset_t *
ngx_http_provider_gate_find_preset(ngx_str_t *name)
{
    ngx_http_provider_gate_preset_t  *preset;

    for (preset = ngx_http_provider_gate_presets; preset->name.len; preset++) {
        if (preset->name.len == name->len
            && ngx_strncmp(preset->name.data, name->data, name->len) == 0)
        {
            return preset;
        }
    }

    return NULL;
}
