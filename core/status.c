#include "core/status.h"

#include "core/stun.h"

int stun_status_error_code(enum stun_status s, bool classic)
{
    switch (s) {
    case STUN_REJECT_ATTR_OVERRUN:
    case STUN_REJECT_ATTR_INVALID:
    case STUN_REJECT_BAD_RESPONSE_ADDRESS:
    case STUN_REJECT_PADDING_AND_PORT:
    case STUN_REJECT_BAD_PORT:
    case STUN_REJECT_LT_MISSING_ATTR:
    case STUN_REJECT_PASSWORD_ALGORITHM:
        return STUN_ERR_BAD_REQUEST;
    case STUN_REJECT_UNKNOWN_ATTR:
    case STUN_REJECT_NO_ALTERNATE:
    case STUN_REJECT_STREAM_ONLY_UDP:
    case STUN_REJECT_RESPONSE_ADDRESS_OFF:
        return STUN_ERR_UNKNOWN_ATTRIBUTE;
    case STUN_REJECT_RESPONSE_ADDRESS:
    case STUN_REJECT_LT_CHALLENGE:
    case STUN_REJECT_WRONG_REALM:
    case STUN_REJECT_LT_UNKNOWN_USER:
    case STUN_REJECT_LT_BAD_INTEGRITY:
        return STUN_ERR_UNAUTHORIZED;
    case STUN_REJECT_STALE_NONCE:
    case STUN_REJECT_FORGED_NONCE:
        return STUN_ERR_STALE_NONCE;
    case STUN_REJECT_USE_TLS:
        return STUN_ERR_USE_TLS;
    case STUN_REJECT_SERVER_ERROR:
    case STUN_REJECT_MINT_RATE:
    case STUN_REJECT_MINT_SHARE:
        return STUN_ERR_SERVER_ERROR;
    /* RFC 3489 §8.2 has a code for each; RFC 8489 §9.1.3 answers 400 for
     * what is missing and 401 for what does not check out. */
    case STUN_REJECT_NO_INTEGRITY:
        return classic ? STUN_ERR_UNAUTHORIZED : STUN_ERR_BAD_REQUEST;
    case STUN_REJECT_MISSING_USERNAME:
        return classic ? STUN_ERR_MISSING_USERNAME : STUN_ERR_BAD_REQUEST;
    case STUN_REJECT_UNKNOWN_USERNAME:
    case STUN_REJECT_STALE_CREDENTIALS:
        return classic ? STUN_ERR_STALE_CREDENTIALS : STUN_ERR_UNAUTHORIZED;
    case STUN_REJECT_BAD_INTEGRITY:
        return classic ? STUN_ERR_INTEGRITY_CHECK : STUN_ERR_UNAUTHORIZED;
    /*
     * RFC 3489 §11.2.9 has no "Forbidden". 400 is the code that fits: it
     * says the request must change before it is sent again (here: its
     * RESPONSE-ADDRESS), it is what an unusable RESPONSE-ADDRESS already
     * gets, and it claims nothing false: 401/43x would send the client
     * after its credentials, 420 would say RESPONSE-ADDRESS is not
     * understood, and 600 tells it to give up on the server altogether.
     */
    case STUN_REJECT_DESTINATION_DENIED:
        return classic ? STUN_ERR_BAD_REQUEST : STUN_ERR_FORBIDDEN;
    case STUN_REJECT_DRAINING:
    case STUN_REJECT_SHED:
        return STUN_ERR_TRY_ALTERNATE; /* never given to a classic request */
    default:
        return 0;
    }
}

const char *stun_status_name(enum stun_status s)
{
    static const char *const names[STUN_STATUS_COUNT] = {
        [STUN_OK] = "ok",
        [STUN_OK_MINTED] = "ok_minted",
        [STUN_DROP_SHORT] = "drop_short",
        [STUN_DROP_NOT_STUN] = "drop_not_stun",
        [STUN_DROP_LENGTH] = "drop_length",
        [STUN_DROP_AFTER_FINGERPRINT] = "drop_after_fingerprint",
        [STUN_DROP_BAD_FINGERPRINT] = "drop_bad_fingerprint",
        [STUN_DROP_RESPONSE] = "drop_response",
        [STUN_DROP_INDICATION] = "drop_indication",
        [STUN_DROP_METHOD] = "drop_method",
        [STUN_REJECT_ATTR_OVERRUN] = "reject_attr_overrun",
        [STUN_REJECT_ATTR_INVALID] = "reject_attr_invalid",
        [STUN_REJECT_UNKNOWN_ATTR] = "reject_unknown_attr",
        [STUN_REJECT_NO_INTEGRITY] = "reject_no_integrity",
        [STUN_REJECT_BAD_INTEGRITY] = "reject_bad_integrity",
        [STUN_REJECT_MISSING_USERNAME] = "reject_missing_username",
        [STUN_REJECT_UNKNOWN_USERNAME] = "reject_unknown_username",
        [STUN_REJECT_STALE_CREDENTIALS] = "reject_stale_credentials",
        [STUN_REJECT_SERVER_ERROR] = "reject_server_error",
        [STUN_REJECT_MINT_RATE] = "reject_mint_rate",
        [STUN_REJECT_MINT_SHARE] = "reject_mint_share",
        [STUN_REJECT_RESPONSE_ADDRESS] = "reject_response_address",
        [STUN_REJECT_BAD_RESPONSE_ADDRESS] = "reject_bad_response_address",
        [STUN_REJECT_RESPONSE_ADDRESS_OFF] = "reject_response_address_off",
        [STUN_REJECT_PADDING_AND_PORT] = "reject_padding_and_port",
        [STUN_REJECT_BAD_PORT] = "reject_bad_port",
        [STUN_REJECT_NO_ALTERNATE] = "reject_no_alternate",
        [STUN_REJECT_STREAM_ONLY_UDP] = "reject_stream_only_udp",
        [STUN_REJECT_USE_TLS] = "reject_use_tls",
        [STUN_REJECT_LT_CHALLENGE] = "reject_lt_challenge",
        [STUN_REJECT_LT_MISSING_ATTR] = "reject_lt_missing_attr",
        [STUN_REJECT_STALE_NONCE] = "reject_stale_nonce",
        [STUN_REJECT_FORGED_NONCE] = "reject_forged_nonce",
        [STUN_REJECT_WRONG_REALM] = "reject_wrong_realm",
        [STUN_REJECT_PASSWORD_ALGORITHM] = "reject_password_algorithm",
        [STUN_REJECT_LT_UNKNOWN_USER] = "reject_lt_unknown_user",
        [STUN_REJECT_LT_BAD_INTEGRITY] = "reject_lt_bad_integrity",
        [STUN_REJECT_DESTINATION_DENIED] = "reject_destination_denied",
        [STUN_REJECT_DRAINING] = "reject_draining",
        [STUN_REJECT_SHED] = "reject_shed",
    };
    return (unsigned)s < STUN_STATUS_COUNT ? names[s] : "invalid";
}

const char *stun_error_reason(int code)
{
    /* Phrases from RFC 8489 §14.8 and RFC 3489 §11.2.9. */
    switch (code) {
    case STUN_ERR_TRY_ALTERNATE:
        return "Try Alternate";
    case STUN_ERR_BAD_REQUEST:
        return "Bad Request";
    case STUN_ERR_UNAUTHORIZED:
        return "Unauthorized";
    case STUN_ERR_FORBIDDEN:
        return "Forbidden";
    case STUN_ERR_UNKNOWN_ATTRIBUTE:
        return "Unknown Attribute";
    case STUN_ERR_STALE_CREDENTIALS:
        return "Stale Credentials";
    case STUN_ERR_INTEGRITY_CHECK:
        return "Integrity Check Failure";
    case STUN_ERR_MISSING_USERNAME:
        return "Missing Username";
    case STUN_ERR_USE_TLS:
        return "Use TLS";
    case STUN_ERR_STALE_NONCE:
        return "Stale Nonce";
    case STUN_ERR_SERVER_ERROR:
        return "Server Error";
    case STUN_ERR_GLOBAL_FAILURE:
        return "Global Failure";
    default:
        return "Error";
    }
}
