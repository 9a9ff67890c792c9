/*
 * The four local endpoints of the handler tests (core/handler.h): A1 =
 * 127.0.0.1, A2 = 127.0.0.2, ports P1 and P2; bit 0 of an endpoint index
 * is P2, bit 1 is A2.
 */
#ifndef STUNRING_TESTS_UNIT_ENDPOINTS_H
#define STUNRING_TESTS_UNIT_ENDPOINTS_H

#include "core/handler.h"

enum {
    P1 = 3478,
    P2 = 3479,
};

__attribute__((unused)) static const struct stun_endpoints four = {
    .addr =
        {
            [STUN_EP_A1P1] = {STUN_FAMILY_IPV4, P1, {127, 0, 0, 1}},
            [STUN_EP_A1P2] = {STUN_FAMILY_IPV4, P2, {127, 0, 0, 1}},
            [STUN_EP_A2P1] = {STUN_FAMILY_IPV4, P1, {127, 0, 0, 2}},
            [STUN_EP_A2P2] = {STUN_FAMILY_IPV4, P2, {127, 0, 0, 2}},
        },
    .alternate = true,
};

#endif
