
/*
 * Copyright (C) provider-gate developers
 *
 * The preset table: per provider, its balance endpoint and the passive
 * rules that recognise its own "cannot pay" answer.  Plain C data; see
 * ngx_http_provider_gate_presets.h.  A preset only fills what the
 * provider block leaves unset, and the credential always comes from the
 * operator.  docs/providers.md explains each entry to operators.
 */


#include <string.h>

#include "ngx_http_provider_gate_presets.h"


/*
 * How the passive patterns avoid matching what they must not.
 *
 * An app's own answers pass through the same location: its 402 to one
 * of its end users ({"error":"You have no credits left, buy more"}), or
 * a generation that echoes the user's prompt.  A prompt can contain any
 * text, the provider's error message included.  So a rule never matches
 * free text alone: it pairs the status with the provider's own error
 * field, written as a JSON key and its value.
 *
 * A prompt echoed in a JSON answer is a JSON string value, and inside a
 * JSON string every double quote is escaped as \".  PG_KEY("code") is
 *
 *     (?<!\\)"code"\s*:\s*
 *
 * so the key "code" of a real answer matches, at any depth, while the
 * same characters in an echoed prompt read \"code\": after "code"
 * comes a backslash, not the closing quote, however often the prompt
 * is nested.  The lookbehind guards the opening quote as well: the
 * opening quote of a real key follows "{", "," or white space, never a
 * backslash, so it rejects only user text that ends up in key position
 * ({"fix my \"code": 402}).  The value is matched with its closing
 * quote or a word boundary, so that "code": 4020 or
 * "insufficient_quota_x" do not match either.
 *
 * What this cannot tell apart: a body that is not JSON and shows the
 * user's text raw (text/plain, an HTML page), and an app's own field
 * that bears the provider's key name and begins with user text.  Rules
 * with a status rarely meet those; the kie rule, which must accept any
 * status, asks for two fields.  And nothing here sees a compressed body: gated
 * locations should ask the upstream for an uncompressed answer.
 *
 * PG_BOTH(a, b) requires a and b in either order (providers do not
 * promise an order of keys), at most 256 bytes apart.  Each branch
 * begins with a key's quote, so pcre2 searches for that character
 * before it tries anything: about three instructions a byte of a 1 KiB
 * answer, against some thirty for two lookaheads anchored at the start.
 * No pattern nests quantifiers, so none can backtrack catastrophically.
 */

#define PG_KEY(k)      "(?<!\\\\)\"" k "\"\\s*:\\s*"
#define PG_BOTH(a, b)                                                      \
    "(?:" a "[\\s\\S]{0,256}?" b "|" b "[\\s\\S]{0,256}?" a ")"


static const pg_preset_t  pg_presets[] = {

    /*
     * KIE.ai, "Get Remaining Credits" and its response codes:
     * https://docs.kie.ai/common-api and docs.kie.ai/common-api/quickstart
     * {"code":200,"msg":"success","data":100}, data in credits.
     *
     * KIE documents its status in the body's "code", 402 meaning
     * insufficient credits, not in the HTTP status, and apps often relay
     * that body inside an HTTP 200: so any status, but both KIE's code
     * 402 and its message, since an app may copy KIE's envelope for its
     * own errors.
     */
    { "kie",
      "https://api.kie.ai/api/v1/chat/credit", "GET",
      PG_PRESET_AUTH_BEARER, NULL, NULL,
      "data", "code=200",
      1, {
          { NULL,
            PG_BOTH(PG_KEY("code") "402\\b",
                    PG_KEY("msg") "\"[^\"\\\\]{0,64}?"
                    "credits are insufficient") } } },

    /*
     * OpenRouter, "Get remaining credits" (a management key is
     * required) and "API Errors":
     * https://openrouter.ai/docs/api/api-reference/credits/get-credits
     * https://openrouter.ai/docs/errors
     * {"data":{"total_credits":100.5,"total_usage":25.75}}, in USD.
     * Errors are {"error":{"code":N,"message":...}} with the HTTP status
     * equal to error.code; 402 is "insufficient credits".
     */
    { "openrouter",
      "https://openrouter.ai/api/v1/credits", "GET",
      PG_PRESET_AUTH_BEARER, NULL, NULL,
      "data.total_credits - data.total_usage", NULL,
      1, {
          { "402", PG_KEY("code") "402\\b" } } },

    /*
     * DeepSeek, "Get User Balance" and "Error Codes":
     * https://api-docs.deepseek.com/api/get-user-balance
     * https://api-docs.deepseek.com/quick_start/error_codes
     * Amounts are strings: "total_balance":"110.00", in the currency of
     * the entry (CNY or USD).  "is_available" says whether the account
     * can pay; it is not an envelope, because an account that ran dry
     * must read as a balance of 0, not as a failed poll that keeps the
     * last good balance.  The docs name 402 "Insufficient Balance"; the
     * body shape is OpenAI's, {"error":{"message":"Insufficient
     * Balance",...}}, with generic type and code fields, so the message
     * field is what identifies it.
     */
    { "deepseek",
      "https://api.deepseek.com/user/balance", "GET",
      PG_PRESET_AUTH_BEARER, NULL, NULL,
      "balance_infos[0].total_balance", NULL,
      1, {
          { "402", PG_KEY("message") "\"Insufficient Balance\"" } } },

    /*
     * ElevenLabs, "Get user subscription", "Errors" and the help centre
     * article "API - Error Code 400 or 401":
     * https://elevenlabs.io/docs/api-reference/user/subscription/get
     * https://elevenlabs.io/docs/eleven-api/resources/errors
     * https://help.elevenlabs.io/hc/en-us/articles/19572237925521
     * The balance is characters (credits) left in the billing period.
     * Out of quota is a 401 whose detail.status is "quota_exceeded",
     * while a bad key is a 401 with "invalid_api_key": the status alone
     * would latch on a bad key.  The errors page calls "status" legacy
     * and "code" its replacement, so either key is accepted.
     */
    { "elevenlabs",
      "https://api.elevenlabs.io/v1/user/subscription", "GET",
      PG_PRESET_AUTH_HEADER, "xi-api-key", NULL,
      "character_limit - character_count", NULL,
      1, {
          { "401", PG_KEY("(?:status|code)") "\"quota_exceeded\"" } } },

    /*
     * Moonshot (Kimi), its balance page, Moonshot's forum on 429
     * "Insufficient Balance" and Kimi's API troubleshooting page:
     * https://platform.moonshot.cn/docs/api/balance
     * https://forum.moonshot.ai/t/429-insufficient-balance/244
     * https://www.kimi.com/help/kimi-api/api-troubleshooting
     * {"code":0,"data":{"available_balance":49.58894,...},"scode":"0x0",
     * "status":true}; at or below 0 the inference API refuses requests.
     * api.moonshot.ai answers in USD, api.moonshot.cn (mainland China,
     * its own keys) in CNY.  The exhaustion error is {"error":{"message":
     * ...,"type":"exceeded_current_quota_error"}}, seen with 429 when the
     * account ran out and 403 when it never had credit; a plain rate
     * limit is a 429 of type "rate_limit_reached_error".
     */
    { "moonshot",
      "https://api.moonshot.ai/v1/users/me/balance", "GET",
      PG_PRESET_AUTH_BEARER, NULL, NULL,
      "data.available_balance", "code=0",
      1, {
          { "403,429",
            PG_KEY("type") "\"exceeded_current_quota_error\"" } } },

    /*
     * fal, Platform APIs "Account Billing" (an admin key is required,
     * sent as "Authorization: Key ...") and the FAQ on locked accounts:
     * https://fal.ai/docs/platform-apis/v1/account/billing
     * https://fal.ai/docs/model-apis/faq
     * {"username":"my-team","credits":{"current_balance":24.5,
     * "currency":"USD"}}.  Below its lock threshold the account is
     * locked: a 403 {"detail":"User is locked. Reason: Exhausted
     * balance. ..."} or "Reason: TOP_UP."; "Reason: Admin lock" is
     * fal's own decision, not a balance, and is not matched.
     */
    { "fal",
      "https://api.fal.ai/v1/account/billing?expand=credits", "GET",
      PG_PRESET_AUTH_HEADER, "Authorization", "Key ",
      "credits.current_balance", NULL,
      1, {
          { "403",
            PG_KEY("detail") "\"User is locked\\. Reason: "
            "(?:Exhausted balance|TOP_UP)\\b" } } },

    /*
     * v0 (Vercel), the Platform API reference (its error bodies are
     * {"error":{"message":...,"type":"..._error"}}) and the answer shown
     * on Vercel's community forum:
     * https://v0.dev/docs/v0-platform-api/ratelimits/rateLimits.find
     * https://community.vercel.com/t/21691
     * {"error":{"type":"payment_required_error","message":"You are out
     * of credits. ..."}} with status 402.  Passive only: v0's billing
     * answer is not in its public docs, and it can disagree with the
     * answers (the forum thread: 402s while credits remain).
     */
    { "v0",
      NULL, NULL,
      PG_PRESET_AUTH_NONE, NULL, NULL,
      NULL, NULL,
      1, {
          { "402", PG_KEY("type") "\"payment_required_error\"" } } },

    /*
     * OpenAI, "Error codes":
     * https://developers.openai.com/docs/guides/error-codes
     * 429 "You exceeded your current quota" is {"error":{...,"type":
     * "insufficient_quota","code":"insufficient_quota"}}; the rate limit
     * is also a 429, with "code":"rate_limit_exceeded".  Passive only:
     * OpenAI has no balance endpoint.
     */
    { "openai",
      NULL, NULL,
      PG_PRESET_AUTH_NONE, NULL, NULL,
      NULL, NULL,
      1, {
          { "429", PG_KEY("code") "\"insufficient_quota\"" } } },

    /*
     * Anthropic, "Errors", and the SDK issue where the low-balance
     * answer was reported and is still seen in 2026:
     * https://docs.anthropic.com/en/api/errors
     * https://github.com/anthropics/anthropic-sdk-typescript/issues/618
     * A low credit balance is answered 400, the status of any bad
     * request, {"type":"error","error":{"type":"invalid_request_error",
     * "message":"Your credit balance is too low to access the Anthropic
     * API. ..."}}: only the message's start tells it from a bad
     * parameter.  Newer answers may use the distinct type
     * "billing_error" with 402, as the SDKs now model it.  Passive only:
     * Anthropic has no balance endpoint.
     */
    { "anthropic",
      NULL, NULL,
      PG_PRESET_AUTH_NONE, NULL, NULL,
      NULL, NULL,
      2, {
          { "400",
            PG_BOTH(PG_KEY("type") "\"invalid_request_error\"",
                    PG_KEY("message")
                    "\"Your credit balance is too low") },
          { "402", PG_KEY("type") "\"billing_error\"" } } },

    /*
     * Replicate, "Prepaid credit" (work stops when the balance reaches
     * zero); its errors are RFC 7807 problems, as its Python client
     * reads them (replicate/replicate-python, pull request 263):
     * https://replicate.com/docs/topics/billing/prepaid-credit
     * 402 {"title":"Insufficient credit","detail":"You have insufficient
     * credit to run this model. ...","status":402}, as users report it.
     * Passive only: Replicate documents no balance endpoint.
     */
    { "replicate",
      NULL, NULL,
      PG_PRESET_AUTH_NONE, NULL, NULL,
      NULL, NULL,
      1, {
          { "402", PG_KEY("title") "\"Insufficient credit\"" } } }
};


#define PG_NPRESETS  (sizeof(pg_presets) / sizeof(pg_preset_t))


const pg_preset_t *
pg_preset_find(const char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < PG_NPRESETS; i++) {
        if (strlen(pg_presets[i].name) == len
            && memcmp(pg_presets[i].name, name, len) == 0)
        {
            return &pg_presets[i];
        }
    }

    return NULL;
}


const pg_preset_t *
pg_preset_at(size_t i)
{
    return (i < PG_NPRESETS) ? &pg_presets[i] : NULL;
}


int
pg_preset_status_listed(const char *list, unsigned status)
{
    int          found;
    unsigned     n;
    const char  *p, *start;

    if (list == NULL || *list == '\0') {
        return 1;
    }

    found = 0;
    p = list;

    for ( ;; ) {
        start = p;
        n = 0;

        while (*p >= '0' && *p <= '9' && p - start < 3) {
            n = n * 10 + (unsigned) (*p - '0');
            p++;
        }

        if (p - start != 3 || n < 100 || n > 599) {
            return -1;
        }

        found |= (n == status);

        if (*p == '\0') {
            return found;
        }

        if (*p != ',') {
            return -1;
        }

        p++;
    }
}
