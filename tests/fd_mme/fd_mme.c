/*
 * fd_mme: a freeDiameter extension that plays the MME side of S6a
 * (TS 29.272, application 16777251) against an HSS, or of S13
 * (application 16777252) against an EIR, for pyhss's interop tests
 * tests/test_interop_s6a_mme.py and tests/test_interop_s13_eir.py.
 * Written for this project against libfreediameter-dev 1.2.1 (the library
 * Open5GS's MME is built on).  fd_mme_dict.c adds S6a and S13 to
 * freeDiameter's dictionary, fd_mme_record.c writes the output file; this
 * file sends and answers.
 *
 * Configuration (the file named after LoadExtension's ':'), "key = value", values
 * without spaces:
 *   role          s6a (the default) or s13
 *   output        file receiving one JSON object per line (see below)
 *   hss_host      the HSS's (or EIR's) Diameter identity (Destination-Host)
 *   hss_realm     its realm (Destination-Realm)
 *   imsi          S6a: a provisioned subscriber
 *   unknown_imsi  S6a: an IMSI the HSS does not know
 *   visited_plmn  S6a: Visited-PLMN-Id, 6 hex digits (3 octets)
 *   ecr           S13, once per ECR to send, in order: label,imei,sv,imsi
 *                 ("-" leaves that AVP out)
 *
 * S6a: once the HSS peer is open it sends, one after the other: AIR
 * (E-UTRAN, 2 vectors), AIR (UTRAN/GERAN), AIR (unknown IMSI), ULR, NOR,
 * PUR and a second ULR (so that the UE is registered, not purged, when the
 * HSS later sends IDR and CLR).  It answers every CLR and IDR with 2001.
 * S13: it announces S13 alone in its CER and sends the ECRs, each with
 * Terminal-Information (IMEI, Software-Version) and User-Name.
 *
 * Output lines: {"event":"answer"|"request"|"timeout"|"parse-error"|...}.
 * "answer" and "request" lines carry the command, Result-Code or
 * Experimental-Result-Code, the result of fd_msg_parse_rules ("parse":
 * "ok" or the error and failing AVP) and every AVP as ["Name", value]
 * (octet strings in hex, grouped AVPs as nested lists).
 */

#include "fd_mme.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ANSWER_TIMEOUT_S 5
#define PEER_OPEN_TIMEOUT_S 30

/* --- configuration ------------------------------------------------------ */

#define MAX_ECRS 16

struct ecr_step { char label[32], imei[64], software_version[16], imsi[32]; };

static struct {
    char role[8];
    char output[1024];
    char hss_host[256];
    char hss_realm[256];
    char imsi[32];
    char unknown_imsi[32];
    uint8_t visited_plmn[3];
    struct ecr_step ecrs[MAX_ECRS];
    int ecr_count;
} conf;

static int s13_role(void)
{
    return !strcmp(conf.role, "s13");
}

static int read_conf(const char *path)
{
    char line[1200], key[64], value[1024];
    FILE *f = fopen(path, "r");
    if (!f) {
        fd_log_error("fd_mme: cannot open configuration %s", path);
        return EINVAL;
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, " %63[^= ] = %1023s", key, value) != 2 || key[0] == '#')
            continue;
#define SET(field) if (!strcmp(key, #field)) snprintf(conf.field, sizeof(conf.field), "%.*s", \
                                                      (int)sizeof(conf.field) - 1, value)
        SET(role); else SET(output); else SET(hss_host); else SET(hss_realm); else SET(imsi);
        else SET(unknown_imsi);
        else if (!strcmp(key, "ecr") && conf.ecr_count < MAX_ECRS) {
            struct ecr_step *e = &conf.ecrs[conf.ecr_count];
            if (sscanf(value, "%31[^,],%63[^,],%15[^,],%31s", e->label, e->imei, e->software_version, e->imsi) == 4)
                conf.ecr_count++;
            else
                fd_log_error("fd_mme: ecr = %s: expected label,imei,sv,imsi", value);
        }
        else if (!strcmp(key, "visited_plmn")) {
            unsigned a, b, c;
            if (sscanf(value, "%2x%2x%2x", &a, &b, &c) == 3) {
                conf.visited_plmn[0] = a; conf.visited_plmn[1] = b; conf.visited_plmn[2] = c;
            }
        }
    }
    fclose(f);
    if (!conf.role[0])
        strcpy(conf.role, "s6a");
    if (strcmp(conf.role, "s6a") && strcmp(conf.role, "s13")) {
        fd_log_error("fd_mme: %s: role must be s6a or s13", path);
        return EINVAL;
    }
    if (!conf.output[0] || !conf.hss_host[0] || !conf.hss_realm[0]
        || (s13_role() ? !conf.ecr_count : !conf.imsi[0] || !conf.unknown_imsi[0])) {
        fd_log_error("fd_mme: %s needs output, hss_host, hss_realm and, for S6a, imsi and unknown_imsi, "
                     "for S13, ecr", path);
        return EINVAL;
    }
    return 0;
}

/* --- the MME's requests ------------------------------------------------- */

static struct avp *new_avp(const char *name)
{
    struct avp *avp = NULL;
    CHECK_FCT_DO(fd_msg_avp_new(find_avp(name), 0, &avp), return NULL);
    return avp;
}

static void add(msg_or_avp *parent, struct avp *avp)
{
    CHECK_FCT_DO(fd_msg_avp_add(parent, MSG_BRW_LAST_CHILD, avp), );
}

static void add_u32(msg_or_avp *parent, const char *name, uint32_t value)
{
    union avp_value v;
    struct avp *avp = new_avp(name);
    v.u32 = value;
    fd_msg_avp_setvalue(avp, &v);
    add(parent, avp);
}

static void add_i32(msg_or_avp *parent, const char *name, int32_t value)
{
    union avp_value v;
    struct avp *avp = new_avp(name);
    v.i32 = value;
    fd_msg_avp_setvalue(avp, &v);
    add(parent, avp);
}

static void add_os(msg_or_avp *parent, const char *name, const void *data, size_t len)
{
    union avp_value v;
    struct avp *avp = new_avp(name);
    v.os.data = (uint8_t *)data;
    v.os.len = len;
    fd_msg_avp_setvalue(avp, &v);  /* copies the data */
    add(parent, avp);
}

static void add_str(msg_or_avp *parent, const char *name, const char *s)
{
    add_os(parent, name, s, strlen(s));
}

/* Session-Id, Vendor-Specific-Application-Id, Auth-Session-State, Origin-*,
 * Destination-*: the head every request of ours has. */
static struct msg *new_application_request(const char *command, uint32_t application)
{
    struct msg *m = NULL;
    struct avp *vsai;
    CHECK_FCT_DO(fd_msg_new(find_cmd(command), MSGFL_ALLOC_ETEID, &m), return NULL);
    CHECK_FCT_DO(fd_msg_new_session(m, (os0_t)"fd_mme", 6), return NULL);
    vsai = new_avp("Vendor-Specific-Application-Id");
    add_u32(vsai, "Vendor-Id", VENDOR_3GPP);
    add_u32(vsai, "Auth-Application-Id", application);
    add(m, vsai);
    add_i32(m, "Auth-Session-State", 1);  /* NO_STATE_MAINTAINED */
    CHECK_FCT_DO(fd_msg_add_origin(m, 0), return NULL);
    add_str(m, "Destination-Host", conf.hss_host);
    add_str(m, "Destination-Realm", conf.hss_realm);
    return m;
}

/* An S6a request: the head and User-Name. */
static struct msg *new_request(const char *command, const char *imsi)
{
    struct msg *m = new_application_request(command, S6A_APP_ID);
    if (m)
        add_str(m, "User-Name", imsi);
    return m;
}

/* An S13 ECR: the head, Terminal-Information, User-Name. */
static struct msg *ecr(const struct ecr_step *e)
{
    struct msg *m = new_application_request("ME-Identity-Check-Request", S13_APP_ID);
    struct avp *terminal;
    if (!m)
        return NULL;
    terminal = new_avp("Terminal-Information");
    if (strcmp(e->imei, "-"))
        add_str(terminal, "IMEI", e->imei);
    if (strcmp(e->software_version, "-"))
        add_str(terminal, "Software-Version", e->software_version);
    add(m, terminal);
    if (strcmp(e->imsi, "-"))
        add_str(m, "User-Name", e->imsi);
    return m;
}

static struct msg *air(const char *imsi, const char *group)
{
    struct msg *m = new_request("Authentication-Information-Request", imsi);
    struct avp *requested = new_avp(group);
    add_u32(requested, "Number-Of-Requested-Vectors", 2);
    add_u32(requested, "Immediate-Response-Preferred", 1);
    add(m, requested);
    add_os(m, "Visited-PLMN-Id", conf.visited_plmn, 3);
    return m;
}

static struct msg *ulr(void)
{
    struct msg *m = new_request("Update-Location-Request", conf.imsi);
    add_i32(m, "RAT-Type", 1004);          /* EUTRAN */
    add_u32(m, "ULR-Flags", 1 << 1 | 1 << 5);  /* S6a/S6d-Indicator, Initial-Attach-Indicator */
    add_os(m, "Visited-PLMN-Id", conf.visited_plmn, 3);
    return m;
}

static struct msg *nor(void)
{
    struct msg *m = new_request("Notify-Request", conf.imsi);
    add_u32(m, "Context-Identifier", 1);
    add_str(m, "Service-Selection", "internet");
    return m;
}

static struct msg *pur(void)
{
    struct msg *m = new_request("Purge-UE-Request", conf.imsi);
    add_u32(m, "PUR-Flags", 1);  /* UE purged in MME */
    return m;
}

static pthread_t sender;
static int sender_started;
static pthread_mutex_t step_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t step_cond = PTHREAD_COND_INITIALIZER;
static int step_done;

static void step_finished(void)
{
    pthread_mutex_lock(&step_lock);
    step_done = 1;
    pthread_cond_signal(&step_cond);
    pthread_mutex_unlock(&step_lock);
}

static void on_answer(void *data, struct msg **msg)
{
    record("answer", data, *msg);
    fd_msg_free(*msg);
    *msg = NULL;
    step_finished();
}

static void on_expired(void *data, DiamId_t sentto, size_t len, struct msg **request)
{
    record_event("timeout", data, "no answer");
    fd_msg_free(*request);
    *request = NULL;
    step_finished();
}

static int hss_open(void)
{
    struct peer_hdr *peer = NULL;
    return !fd_peer_getbyid(conf.hss_host, strlen(conf.hss_host), 1, &peer) && peer
        && fd_peer_get_state(peer) == STATE_OPEN;
}

static int wait_for_hss(void)
{
    struct timespec pause = {0, 20 * 1000 * 1000};
    int waited;
    for (waited = 0; !hss_open(); waited++) {
        if (waited * 20 >= PEER_OPEN_TIMEOUT_S * 1000) {
            record_event("error", "open", "the HSS connection did not open");
            return 0;
        }
        nanosleep(&pause, NULL);
    }
    return 1;
}

/* Send m and wait for its answer (or its timeout); 0 when it could not go. */
static int send_and_wait(struct msg *m, const char *label)
{
    struct timespec deadline;
    pthread_mutex_lock(&step_lock);
    step_done = 0;
    pthread_mutex_unlock(&step_lock);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += ANSWER_TIMEOUT_S;
    if (!m || fd_msg_send_timeout(&m, on_answer, (void *)label, on_expired, &deadline)) {
        record_event("error", label, "could not build or send the request");
        return 0;
    }
    pthread_mutex_lock(&step_lock);
    while (!step_done)
        pthread_cond_wait(&step_cond, &step_lock);
    pthread_mutex_unlock(&step_lock);
    return 1;
}

/* Runs in its own thread: the steps need the core started and the HSS
 * connection open, neither of which exists while the extension loads. */
static void *send_steps(void *unused)
{
    static const char *labels[] = {"air-eutran", "air-utran-geran", "air-unknown-imsi", "ulr", "nor", "pur",
                                   "ulr-after-purge"};
    size_t i;

    if (!wait_for_hss())
        return NULL;
    for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        struct msg *m;
        switch (i) {
            case 0: m = air(conf.imsi, "Requested-EUTRAN-Authentication-Info"); break;
            case 1: m = air(conf.imsi, "Requested-UTRAN-GERAN-Authentication-Info"); break;
            case 2: m = air(conf.unknown_imsi, "Requested-EUTRAN-Authentication-Info"); break;
            case 3: case 6: m = ulr(); break;
            case 4: m = nor(); break;
            default: m = pur(); break;
        }
        if (!send_and_wait(m, labels[i]))
            return NULL;
    }
    record_event("done", "requests", NULL);
    return NULL;
}

/* The S13 role's thread: the configured ECRs, one after the other. */
static void *send_ecrs(void *unused)
{
    int i;
    if (!wait_for_hss())
        return NULL;
    for (i = 0; i < conf.ecr_count; i++)
        if (!send_and_wait(ecr(&conf.ecrs[i]), conf.ecrs[i].label))
            return NULL;
    record_event("done", "requests", NULL);
    return NULL;
}

/* --- the HSS's requests: CLR and IDR ------------------------------------------ */

static int on_request(struct msg **msg, struct avp *avp, struct session *sess, void *label,
                      enum disp_action *action)
{
    record("request", label, *msg);
    CHECK_FCT(fd_msg_new_answer_from_req(dict, msg, 0));
    CHECK_FCT(fd_msg_rescode_set(*msg, "DIAMETER_SUCCESS", NULL, NULL, 1));
    add_i32(*msg, "Auth-Session-State", 1);
    *action = DISP_ACT_SEND;
    return 0;
}

/* freeDiameter drops a 2xxx answer (and one without Result-Code) that fails
 * its dictionary or ABNF check before our callback sees it: record those. */
static void on_hook(enum fd_hook_type type, struct msg *msg, struct peer_hdr *peer, void *other,
                    struct fd_hook_permsgdata *pmd, void *regdata)
{
    char label[64];
    struct msg_hdr *hdr = NULL;
    if (msg && !fd_msg_hdr(msg, &hdr))
        snprintf(label, sizeof(label), "%s %u", hdr->msg_flags & CMD_FLAG_REQUEST ? "request" : "answer",
                 hdr->msg_code);
    else
        snprintf(label, sizeof(label), "unparsed");
    if (type == HOOK_MESSAGE_PARSING_ERROR && msg)
        record("parse-error", label, msg);  /* parsed again here to name the failing AVP */
    else if (type == HOOK_MESSAGE_PARSING_ERROR)
        record_event("parse-error", label, "not a Diameter message");
    else if (type == HOOK_MESSAGE_ROUTING_ERROR)
        record_event("routing-error", label, other);
    else
        record_event("dropped", label, other);
}

static int fd_mme_entry(char *conffile)
{
    struct disp_when when;
    struct fd_hook_hdl *hook = NULL;
    struct buf b = {0};

    CHECK_FCT(read_conf(conffile));
    if (open_output(conf.output)) {
        fd_log_error("fd_mme: cannot write %s", conf.output);
        return EINVAL;
    }
    CHECK_FCT(ensure_dictionary());
    put(&b, "{\"event\":\"dictionary\",\"created_avps\":%d,\"created_commands\":%d,\"created_rules\":%d,"
            "\"existing_rules\":%d}", created_avps, created_commands, created_rules, existing_rules);
    emit(&b);
    if (s13_role()) {
        /* An MME towards its EIR: S13 alone in the CER. */
        CHECK_FCT(fd_disp_app_support(s13_app, vendor_3gpp, 1, 0));
        CHECK_FCT(fd_hook_register(HOOK_MASK(HOOK_MESSAGE_PARSING_ERROR, HOOK_MESSAGE_ROUTING_ERROR,
                                             HOOK_MESSAGE_DROPPED), on_hook, NULL, NULL, &hook));
        CHECK_POSIX(pthread_create(&sender, NULL, send_ecrs, NULL));
        sender_started = 1;
        return 0;
    }
    /* Announced in our CER as Vendor-Specific-Application-Id, like an MME. */
    CHECK_FCT(fd_disp_app_support(s6a_app, vendor_3gpp, 1, 0));
    memset(&when, 0, sizeof(when));
    when.app = s6a_app;
    when.command = find_cmd("Cancel-Location-Request");
    CHECK_FCT(fd_disp_register(on_request, DISP_HOW_CC, &when, "clr", NULL));
    when.command = find_cmd("Insert-Subscriber-Data-Request");
    CHECK_FCT(fd_disp_register(on_request, DISP_HOW_CC, &when, "idr", NULL));
    CHECK_FCT(fd_hook_register(HOOK_MASK(HOOK_MESSAGE_PARSING_ERROR, HOOK_MESSAGE_ROUTING_ERROR,
                                         HOOK_MESSAGE_DROPPED), on_hook, NULL, NULL, &hook));
    CHECK_POSIX(pthread_create(&sender, NULL, send_steps, NULL));
    sender_started = 1;
    return 0;
}

void fd_ext_fini(void)
{
    if (sender_started) {
        pthread_cancel(sender);
        pthread_join(sender, NULL);
    }
    close_output();
}

EXTENSION_ENTRY("fd_mme", fd_mme_entry, "dict_dcca_3gpp");
