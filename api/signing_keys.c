/*
 * signing_keys.c - /v1/signing-keys: the account's enclave signing keys.
 *
 * An account's first conversion makes its key (workers/convert/keys.c):
 * RSA-3072 with exponent 3, sealed at rest, unsealed only in the job that
 * signs.  The API shows keys by their MRSIGNER, the active one and those
 * rotated out (whose builds still verify); the keys themselves never leave.
 */
#include "daemon.h"
#include "resource.h"

/* GET /v1/signing-keys */
static int signing_keys_list(cl_req *r, json_t **out)
{
    return cl_page_account_rows(r, out,
            "SELECT k.id, k.mrsigner, k.origin, k.state, k.created_at, k.retired_at,"
            "  cl_time(k.created_at) || '|' || k.id AS _cursor"
            "  FROM signing_keys k WHERE k.account_id = $1"
            "   AND ($2::text IS NULL OR (k.created_at, k.id) >"
            "        (split_part($2, '|', 1)::timestamptz, split_part($2, '|', 2)::uuid))"
            " ORDER BY k.created_at, k.id LIMIT $3");
}

const cl_route cl_signing_keys_routes[] = {
    { "GET", "/v1/signing-keys", signing_keys_list, CL_ROLE_READ },
    { NULL, NULL, NULL, 0 },
};
