/*
 * fd_mme: the S6a and S13 part of freeDiameter's dictionary.  Debian's
 * dict_dcca_3gpp (loaded before us) defines most TS 29.272 AVPs but no S6a
 * or S13 application, none of their commands and no rule inside their
 * grouped AVPs (1.2.1 has rules for Allocation-Retention-Priority only,
 * which we keep); we add what is missing, so that fd_msg_parse_rules checks
 * S6a and S13 messages against the ABNF of TS 29.272 section 7.2.
 */

#include "fd_mme.h"

struct dictionary *dict;
struct dict_object *s6a_app, *s13_app, *vendor_3gpp;
int created_avps, created_commands, created_rules, existing_rules;

/* What S6a needs of each AVP; created only when the loaded dictionaries
 * (dict_dcca_3gpp above all) lack it. */
static const struct avp_def {
    vendor_id_t vendor; avp_code_t code; const char *name;
    enum dict_avp_basetype type; const char *derived;
} avp_defs[] = {
    {0, 493, "Service-Selection", AVP_TYPE_OCTETSTRING, "UTF8String"},
    {VENDOR_3GPP, 1400, "Subscription-Data", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1405, "ULR-Flags", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1406, "ULA-Flags", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1407, "Visited-PLMN-Id", AVP_TYPE_OCTETSTRING, NULL},
    {VENDOR_3GPP, 1408, "Requested-EUTRAN-Authentication-Info", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1409, "Requested-UTRAN-GERAN-Authentication-Info", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1410, "Number-Of-Requested-Vectors", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1411, "Re-Synchronization-Info", AVP_TYPE_OCTETSTRING, NULL},
    {VENDOR_3GPP, 1412, "Immediate-Response-Preferred", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1413, "Authentication-Info", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1414, "E-UTRAN-Vector", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1415, "UTRAN-Vector", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1416, "GERAN-Vector", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1417, "Network-Access-Mode", AVP_TYPE_INTEGER32, NULL},
    {VENDOR_3GPP, 1419, "Item-Number", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1420, "Cancellation-Type", AVP_TYPE_INTEGER32, NULL},
    {VENDOR_3GPP, 1423, "Context-Identifier", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1424, "Subscriber-Status", AVP_TYPE_INTEGER32, NULL},
    {VENDOR_3GPP, 1425, "Operator-Determined-Barring", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1426, "Access-Restriction-Data", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1428, "All-APN-Configurations-Included-Indicator", AVP_TYPE_INTEGER32, NULL},
    {VENDOR_3GPP, 1429, "APN-Configuration-Profile", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1430, "APN-Configuration", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1431, "EPS-Subscribed-QoS-Profile", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1435, "AMBR", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1442, "PUA-Flags", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1443, "NOR-Flags", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1447, "RAND", AVP_TYPE_OCTETSTRING, NULL},
    {VENDOR_3GPP, 1448, "XRES", AVP_TYPE_OCTETSTRING, NULL},
    {VENDOR_3GPP, 1449, "AUTN", AVP_TYPE_OCTETSTRING, NULL},
    {VENDOR_3GPP, 1450, "KASME", AVP_TYPE_OCTETSTRING, NULL},
    {VENDOR_3GPP, 1453, "Kc", AVP_TYPE_OCTETSTRING, NULL},
    {VENDOR_3GPP, 1454, "SRES", AVP_TYPE_OCTETSTRING, NULL},
    {VENDOR_3GPP, 1456, "PDN-Type", AVP_TYPE_INTEGER32, NULL},
    {VENDOR_3GPP, 1490, "IDR-Flags", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1619, "Subscribed-Periodic-RAU-TAU-Timer", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1635, "PUR-Flags", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1638, "CLR-Flags", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 625, "Confidentiality-Key", AVP_TYPE_OCTETSTRING, NULL},
    {VENDOR_3GPP, 626, "Integrity-Key", AVP_TYPE_OCTETSTRING, NULL},
    {VENDOR_3GPP, 701, "MSISDN", AVP_TYPE_OCTETSTRING, NULL},
    {VENDOR_3GPP, 515, "Max-Requested-Bandwidth-DL", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 516, "Max-Requested-Bandwidth-UL", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 628, "Supported-Features", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1028, "QoS-Class-Identifier", AVP_TYPE_INTEGER32, NULL},
    {VENDOR_3GPP, 1032, "RAT-Type", AVP_TYPE_INTEGER32, NULL},
    {VENDOR_3GPP, 1034, "Allocation-Retention-Priority", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1046, "Priority-Level", AVP_TYPE_UNSIGNED32, NULL},
    {VENDOR_3GPP, 1047, "Pre-emption-Capability", AVP_TYPE_INTEGER32, NULL},
    {VENDOR_3GPP, 1048, "Pre-emption-Vulnerability", AVP_TYPE_INTEGER32, NULL},
    /* S13 (TS 29.272 7.3.3-7.3.6, 7.3.51) */
    {VENDOR_3GPP, 1401, "Terminal-Information", AVP_TYPE_GROUPED, NULL},
    {VENDOR_3GPP, 1402, "IMEI", AVP_TYPE_OCTETSTRING, "UTF8String"},
    {VENDOR_3GPP, 1403, "Software-Version", AVP_TYPE_OCTETSTRING, "UTF8String"},
    {VENDOR_3GPP, 1445, "Equipment-Status", AVP_TYPE_INTEGER32, NULL},
    {VENDOR_3GPP, 1471, "3GPP2-MEID", AVP_TYPE_OCTETSTRING, NULL},
};

static const struct cmd_def {
    application_id_t application; command_code_t code; const char *request, *answer;
} cmd_defs[] = {
    {S6A_APP_ID, 316, "Update-Location-Request", "Update-Location-Answer"},
    {S6A_APP_ID, 317, "Cancel-Location-Request", "Cancel-Location-Answer"},
    {S6A_APP_ID, 318, "Authentication-Information-Request", "Authentication-Information-Answer"},
    {S6A_APP_ID, 319, "Insert-Subscriber-Data-Request", "Insert-Subscriber-Data-Answer"},
    {S6A_APP_ID, 321, "Purge-UE-Request", "Purge-UE-Answer"},
    {S6A_APP_ID, 323, "Notify-Request", "Notify-Answer"},
    {S13_APP_ID, 324, "ME-Identity-Check-Request", "ME-Identity-Check-Answer"},
};

/* The ABNF of TS 29.272 section 7.2 and 7.3, as far as the AVPs above and
 * the base protocol's go: "<x>" HEAD, "{x}" REQ, "[x]" OPT, "*[x]" ANY,
 * "1*{x}" SOME.  AVPs not listed (*[AVP]) are allowed by freeDiameter. */
struct rule_def { const char *parent, *child; enum rule_position position; int min, max; };
#define HEAD(p, c) {p, c, RULE_FIXED_HEAD, 1, 1}
#define REQ(p, c) {p, c, RULE_REQUIRED, 1, 1}
#define OPT(p, c) {p, c, RULE_OPTIONAL, 0, 1}
#define ANY(p, c) {p, c, RULE_OPTIONAL, 0, -1}
#define SOME(p, c) {p, c, RULE_REQUIRED, 1, -1}
#define REQUEST_COMMON(p, desthost) HEAD(p, "Session-Id"), OPT(p, "Vendor-Specific-Application-Id"), \
    REQ(p, "Auth-Session-State"), REQ(p, "Origin-Host"), REQ(p, "Origin-Realm"), desthost(p, "Destination-Host"), \
    REQ(p, "Destination-Realm"), REQ(p, "User-Name"), ANY(p, "Supported-Features"), ANY(p, "Proxy-Info"), \
    ANY(p, "Route-Record")
#define ANSWER_COMMON(p) HEAD(p, "Session-Id"), OPT(p, "Vendor-Specific-Application-Id"), OPT(p, "Result-Code"), \
    OPT(p, "Experimental-Result"), REQ(p, "Auth-Session-State"), REQ(p, "Origin-Host"), REQ(p, "Origin-Realm"), \
    ANY(p, "Supported-Features"), OPT(p, "Failed-AVP"), ANY(p, "Proxy-Info"), ANY(p, "Route-Record")

static const struct rule_def rule_defs[] = {
    REQUEST_COMMON("Authentication-Information-Request", OPT),
    OPT("Authentication-Information-Request", "Requested-EUTRAN-Authentication-Info"),
    OPT("Authentication-Information-Request", "Requested-UTRAN-GERAN-Authentication-Info"),
    REQ("Authentication-Information-Request", "Visited-PLMN-Id"),
    ANSWER_COMMON("Authentication-Information-Answer"),
    OPT("Authentication-Information-Answer", "Authentication-Info"),
    REQUEST_COMMON("Update-Location-Request", OPT),
    REQ("Update-Location-Request", "RAT-Type"), REQ("Update-Location-Request", "ULR-Flags"),
    REQ("Update-Location-Request", "Visited-PLMN-Id"),
    ANSWER_COMMON("Update-Location-Answer"),
    OPT("Update-Location-Answer", "ULA-Flags"), OPT("Update-Location-Answer", "Subscription-Data"),
    REQUEST_COMMON("Cancel-Location-Request", REQ),
    REQ("Cancel-Location-Request", "Cancellation-Type"), OPT("Cancel-Location-Request", "CLR-Flags"),
    ANSWER_COMMON("Cancel-Location-Answer"),
    REQUEST_COMMON("Insert-Subscriber-Data-Request", REQ),
    REQ("Insert-Subscriber-Data-Request", "Subscription-Data"), OPT("Insert-Subscriber-Data-Request", "IDR-Flags"),
    ANSWER_COMMON("Insert-Subscriber-Data-Answer"),
    REQUEST_COMMON("Purge-UE-Request", OPT), OPT("Purge-UE-Request", "PUR-Flags"),
    ANSWER_COMMON("Purge-UE-Answer"), OPT("Purge-UE-Answer", "PUA-Flags"),
    REQUEST_COMMON("Notify-Request", OPT), OPT("Notify-Request", "Context-Identifier"),
    OPT("Notify-Request", "Service-Selection"), OPT("Notify-Request", "NOR-Flags"),
    ANSWER_COMMON("Notify-Answer"),
    /* S13: ECR/ECA (7.2.19, 7.2.20), Terminal-Information (7.3.3). */
    HEAD("ME-Identity-Check-Request", "Session-Id"), OPT("ME-Identity-Check-Request", "Vendor-Specific-Application-Id"),
    REQ("ME-Identity-Check-Request", "Auth-Session-State"), REQ("ME-Identity-Check-Request", "Origin-Host"),
    REQ("ME-Identity-Check-Request", "Origin-Realm"), OPT("ME-Identity-Check-Request", "Destination-Host"),
    REQ("ME-Identity-Check-Request", "Destination-Realm"), REQ("ME-Identity-Check-Request", "Terminal-Information"),
    OPT("ME-Identity-Check-Request", "User-Name"), ANY("ME-Identity-Check-Request", "Proxy-Info"),
    ANY("ME-Identity-Check-Request", "Route-Record"),
    HEAD("ME-Identity-Check-Answer", "Session-Id"), OPT("ME-Identity-Check-Answer", "Vendor-Specific-Application-Id"),
    OPT("ME-Identity-Check-Answer", "Result-Code"), OPT("ME-Identity-Check-Answer", "Experimental-Result"),
    REQ("ME-Identity-Check-Answer", "Auth-Session-State"), REQ("ME-Identity-Check-Answer", "Origin-Host"),
    REQ("ME-Identity-Check-Answer", "Origin-Realm"), OPT("ME-Identity-Check-Answer", "Equipment-Status"),
    OPT("ME-Identity-Check-Answer", "Failed-AVP"), ANY("ME-Identity-Check-Answer", "Proxy-Info"),
    ANY("ME-Identity-Check-Answer", "Route-Record"),
    OPT("Terminal-Information", "IMEI"), OPT("Terminal-Information", "3GPP2-MEID"),
    OPT("Terminal-Information", "Software-Version"),
    REQ("Experimental-Result", "Vendor-Id"), REQ("Experimental-Result", "Experimental-Result-Code"),
    OPT("Requested-EUTRAN-Authentication-Info", "Number-Of-Requested-Vectors"),
    OPT("Requested-EUTRAN-Authentication-Info", "Immediate-Response-Preferred"),
    OPT("Requested-EUTRAN-Authentication-Info", "Re-Synchronization-Info"),
    OPT("Requested-UTRAN-GERAN-Authentication-Info", "Number-Of-Requested-Vectors"),
    OPT("Requested-UTRAN-GERAN-Authentication-Info", "Immediate-Response-Preferred"),
    OPT("Requested-UTRAN-GERAN-Authentication-Info", "Re-Synchronization-Info"),
    ANY("Authentication-Info", "E-UTRAN-Vector"), ANY("Authentication-Info", "UTRAN-Vector"),
    ANY("Authentication-Info", "GERAN-Vector"),
    OPT("E-UTRAN-Vector", "Item-Number"), REQ("E-UTRAN-Vector", "RAND"), REQ("E-UTRAN-Vector", "XRES"),
    REQ("E-UTRAN-Vector", "AUTN"), REQ("E-UTRAN-Vector", "KASME"),
    OPT("UTRAN-Vector", "Item-Number"), REQ("UTRAN-Vector", "RAND"), REQ("UTRAN-Vector", "XRES"),
    REQ("UTRAN-Vector", "AUTN"), REQ("UTRAN-Vector", "Confidentiality-Key"), REQ("UTRAN-Vector", "Integrity-Key"),
    OPT("GERAN-Vector", "Item-Number"), REQ("GERAN-Vector", "RAND"), REQ("GERAN-Vector", "SRES"),
    REQ("GERAN-Vector", "Kc"),
    OPT("Subscription-Data", "Subscriber-Status"), OPT("Subscription-Data", "MSISDN"),
    OPT("Subscription-Data", "Network-Access-Mode"), OPT("Subscription-Data", "Operator-Determined-Barring"),
    OPT("Subscription-Data", "Access-Restriction-Data"), OPT("Subscription-Data", "AMBR"),
    OPT("Subscription-Data", "APN-Configuration-Profile"),
    OPT("Subscription-Data", "Subscribed-Periodic-RAU-TAU-Timer"),
    REQ("AMBR", "Max-Requested-Bandwidth-UL"), REQ("AMBR", "Max-Requested-Bandwidth-DL"),
    REQ("APN-Configuration-Profile", "Context-Identifier"),
    REQ("APN-Configuration-Profile", "All-APN-Configurations-Included-Indicator"),
    SOME("APN-Configuration-Profile", "APN-Configuration"),
    REQ("APN-Configuration", "Context-Identifier"), REQ("APN-Configuration", "PDN-Type"),
    REQ("APN-Configuration", "Service-Selection"), OPT("APN-Configuration", "EPS-Subscribed-QoS-Profile"),
    OPT("APN-Configuration", "AMBR"),
    REQ("EPS-Subscribed-QoS-Profile", "QoS-Class-Identifier"),
    REQ("EPS-Subscribed-QoS-Profile", "Allocation-Retention-Priority"),
    REQ("Allocation-Retention-Priority", "Priority-Level"),
    OPT("Allocation-Retention-Priority", "Pre-emption-Capability"),
    OPT("Allocation-Retention-Priority", "Pre-emption-Vulnerability"),
};

struct dict_object *find_avp(const char *name)
{
    struct dict_object *o = NULL;
    fd_dict_search(dict, DICT_AVP, AVP_BY_NAME_ALL_VENDORS, name, &o, ENOENT);
    return o;
}

struct dict_object *find_cmd(const char *name)
{
    struct dict_object *o = NULL;
    fd_dict_search(dict, DICT_COMMAND, CMD_BY_NAME, name, &o, ENOENT);
    return o;
}

int ensure_dictionary(void)
{
    vendor_id_t vid = VENDOR_3GPP;
    application_id_t aid = S6A_APP_ID;
    size_t i;

    dict = fd_g_config->cnf_dict;
    if (fd_dict_search(dict, DICT_VENDOR, VENDOR_BY_ID, &vid, &vendor_3gpp, ENOENT)) {
        struct dict_vendor_data v = {VENDOR_3GPP, "3GPP"};
        CHECK_FCT(fd_dict_new(dict, DICT_VENDOR, &v, NULL, &vendor_3gpp));
    }
    if (fd_dict_search(dict, DICT_APPLICATION, APPLICATION_BY_ID, &aid, &s6a_app, ENOENT)) {
        struct dict_application_data a = {S6A_APP_ID, "S6a"};
        CHECK_FCT(fd_dict_new(dict, DICT_APPLICATION, &a, vendor_3gpp, &s6a_app));
    }
    aid = S13_APP_ID;
    if (fd_dict_search(dict, DICT_APPLICATION, APPLICATION_BY_ID, &aid, &s13_app, ENOENT)) {
        struct dict_application_data a = {S13_APP_ID, "S13"};
        CHECK_FCT(fd_dict_new(dict, DICT_APPLICATION, &a, vendor_3gpp, &s13_app));
    }
    for (i = 0; i < sizeof(avp_defs) / sizeof(avp_defs[0]); i++) {
        const struct avp_def *d = &avp_defs[i];
        struct dict_avp_request req = {d->vendor, d->code, NULL};
        struct dict_object *o = NULL, *type = NULL;
        struct dict_avp_data data = {d->code, d->vendor, (char *)d->name, AVP_FLAG_VENDOR | AVP_FLAG_MANDATORY,
                                     AVP_FLAG_MANDATORY | (d->vendor ? AVP_FLAG_VENDOR : 0), d->type};
        if (!fd_dict_search(dict, DICT_AVP, AVP_BY_CODE_AND_VENDOR, &req, &o, ENOENT))
            continue;
        if (d->derived)
            CHECK_FCT(fd_dict_search(dict, DICT_TYPE, TYPE_BY_NAME, d->derived, &type, ENOENT));
        CHECK_FCT(fd_dict_new(dict, DICT_AVP, &data, type, NULL));
        created_avps++;
        fd_log_notice("fd_mme: defined AVP %s (%u/%u)", d->name, d->vendor, d->code);
    }
    for (i = 0; i < sizeof(cmd_defs) / sizeof(cmd_defs[0]); i++) {
        struct dict_cmd_data r = {cmd_defs[i].code, (char *)cmd_defs[i].request,
                                  CMD_FLAG_REQUEST | CMD_FLAG_PROXIABLE | CMD_FLAG_ERROR,
                                  CMD_FLAG_REQUEST | CMD_FLAG_PROXIABLE};
        struct dict_cmd_data a = {cmd_defs[i].code, (char *)cmd_defs[i].answer,
                                  CMD_FLAG_REQUEST | CMD_FLAG_PROXIABLE, CMD_FLAG_PROXIABLE};
        struct dict_object *app = cmd_defs[i].application == S13_APP_ID ? s13_app : s6a_app;
        if (!find_cmd(cmd_defs[i].request)) {
            CHECK_FCT(fd_dict_new(dict, DICT_COMMAND, &r, app, NULL));
            created_commands++;
        }
        if (!find_cmd(cmd_defs[i].answer)) {
            CHECK_FCT(fd_dict_new(dict, DICT_COMMAND, &a, app, NULL));
            created_commands++;
        }
    }
    for (i = 0; i < sizeof(rule_defs) / sizeof(rule_defs[0]); i++) {
        const struct rule_def *d = &rule_defs[i];
        struct dict_object *parent = find_cmd(d->parent), *child = find_avp(d->child), *o = NULL;
        struct dict_rule_request req;
        struct dict_rule_data data;
        if (!parent) parent = find_avp(d->parent);
        if (!parent || !child) {
            fd_log_error("fd_mme: rule %s in %s: unknown name", d->child, d->parent);
            return ENOENT;
        }
        req.rule_parent = parent;
        req.rule_avp = child;
        if (!fd_dict_search(dict, DICT_RULE, RULE_BY_AVP_AND_PARENT, &req, &o, ENOENT)) {
            existing_rules++;  /* keep what the loaded dictionaries say */
            continue;
        }
        data.rule_avp = child;
        data.rule_position = d->position;
        data.rule_order = 1;
        data.rule_min = d->min;
        data.rule_max = d->max;
        CHECK_FCT(fd_dict_new(dict, DICT_RULE, &data, parent, NULL));
        created_rules++;
    }
    return 0;
}
