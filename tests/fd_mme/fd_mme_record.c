/*
 * fd_mme: the output file.  One JSON object per line, written whole under
 * a lock (answers arrive on freeDiameter's threads, the requests' results
 * on ours).
 */

#include "fd_mme.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void put(struct buf *b, const char *format, ...)
{
    va_list args;
    for (;;) {
        size_t room = b->cap - b->len;
        int n;
        va_start(args, format);
        n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? room : 0, format, args);
        va_end(args);
        if (n < 0) abort();
        if ((size_t)n < room) { b->len += n; return; }
        b->cap = (b->cap + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        if (!b->data) abort();
    }
}

/* A JSON string: the characters JSON needs escaped become \u00XX. */
void put_string(struct buf *b, const char *s, size_t len)
{
    size_t i;
    put(b, "\"");
    for (i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) put(b, "\\u%04x", c);
        else put(b, "%c", c);
    }
    put(b, "\"");
}

static FILE *output;
static pthread_mutex_t output_lock = PTHREAD_MUTEX_INITIALIZER;

void emit(struct buf *b)
{
    pthread_mutex_lock(&output_lock);
    if (output) { fprintf(output, "%.*s\n", (int)b->len, b->data); fflush(output); }
    pthread_mutex_unlock(&output_lock);
    free(b->data);
    b->data = NULL; b->len = b->cap = 0;
}

int open_output(const char *path)
{
    output = fopen(path, "a");
    return output ? 0 : errno;
}

void close_output(void)
{
    pthread_mutex_lock(&output_lock);
    if (output) fclose(output);
    output = NULL;
    pthread_mutex_unlock(&output_lock);
}

static void put_avps(struct buf *b, msg_or_avp *parent, int *unknown)
{
    struct avp *avp = NULL;
    int first = 1;
    put(b, "[");
    fd_msg_browse(parent, MSG_BRW_FIRST_CHILD, &avp, NULL);
    for (; avp; fd_msg_browse(avp, MSG_BRW_NEXT, &avp, NULL)) {
        struct avp_hdr *h = NULL;
        struct dict_object *model = NULL;
        struct dict_avp_data d;
        fd_msg_avp_hdr(avp, &h);
        fd_msg_model(avp, &model);
        put(b, first ? "[" : ",[");
        first = 0;
        if (!model || fd_dict_getval(model, &d)) {
            /* Not in our dictionary: the test fails on these. */
            put(b, "\"unknown:%u/%u\",null]", h->avp_vendor, h->avp_code);
            (*unknown)++;
            continue;
        }
        put_string(b, d.avp_name, strlen(d.avp_name));
        put(b, ",");
        if (d.avp_basetype == AVP_TYPE_GROUPED) {
            put_avps(b, avp, unknown);
        } else if (!h->avp_value) {
            put(b, "null");
        } else switch (d.avp_basetype) {
            case AVP_TYPE_OCTETSTRING: {
                size_t i;
                put(b, "\"");
                for (i = 0; i < h->avp_value->os.len; i++) put(b, "%02x", h->avp_value->os.data[i]);
                put(b, "\"");
                break;
            }
            case AVP_TYPE_INTEGER32: put(b, "%d", h->avp_value->i32); break;
            case AVP_TYPE_UNSIGNED32: put(b, "%u", h->avp_value->u32); break;
            case AVP_TYPE_INTEGER64: put(b, "%lld", (long long)h->avp_value->i64); break;
            case AVP_TYPE_UNSIGNED64: put(b, "%llu", (unsigned long long)h->avp_value->u64); break;
            default: put(b, "%g", (double)h->avp_value->f64); break;
        }
        put(b, "]");
    }
    put(b, "]");
}

/* The first AVP called name directly under parent, or NULL. */
static struct avp *child(msg_or_avp *parent, const char *name)
{
    struct avp *avp = NULL;
    fd_msg_browse(parent, MSG_BRW_FIRST_CHILD, &avp, NULL);
    for (; avp; fd_msg_browse(avp, MSG_BRW_NEXT, &avp, NULL)) {
        struct dict_object *model = NULL;
        struct dict_avp_data d;
        if (!fd_msg_model(avp, &model) && model && !fd_dict_getval(model, &d) && !strcmp(d.avp_name, name))
            return avp;
    }
    return NULL;
}

static void put_u32_of(struct buf *b, const char *key, struct avp *avp)
{
    struct avp_hdr *h = NULL;
    if (avp && !fd_msg_avp_hdr(avp, &h) && h->avp_value) put(b, ",\"%s\":%u", key, h->avp_value->u32);
    else put(b, ",\"%s\":null", key);
}

/* One line for a received answer or request: what freeDiameter's own
 * parser (dictionary, then ABNF rules) says of it, and its AVPs. */
void record(const char *event, const char *label, struct msg *m)
{
    struct buf b = {0};
    struct fd_pei pei;
    struct msg_hdr *hdr = NULL;
    struct dict_object *model = NULL;
    struct dict_cmd_data cmd;
    struct avp *er;
    int ret, unknown = 0;

    memset(&pei, 0, sizeof(pei));
    ret = fd_msg_parse_dict(m, dict, &pei);
    if (!ret) ret = fd_msg_parse_rules(m, dict, &pei);
    fd_msg_hdr(m, &hdr);
    put(&b, "{\"event\":\"%s\",\"label\":", event);
    put_string(&b, label, strlen(label));
    put(&b, ",\"code\":%u,\"application\":%u,\"flags\":%u", hdr->msg_code, hdr->msg_appl, hdr->msg_flags);
    if (!fd_msg_model(m, &model) && model && !fd_dict_getval(model, &cmd)) {
        put(&b, ",\"command\":");
        put_string(&b, cmd.cmd_name, strlen(cmd.cmd_name));
    }
    if (ret) {
        put(&b, ",\"parse\":\"%s (%d)\",\"failed_avp\":", pei.pei_errcode ? pei.pei_errcode : "error", ret);
        if (pei.pei_avp) {
            struct dict_object *am = NULL;
            struct dict_avp_data ad;
            if (!fd_msg_model(pei.pei_avp, &am) && am && !fd_dict_getval(am, &ad))
                put_string(&b, ad.avp_name, strlen(ad.avp_name));
            else
                put(&b, "\"?\"");
        } else {
            put(&b, "null");
        }
        if (pei.pei_message) { put(&b, ",\"parse_message\":"); put_string(&b, pei.pei_message, strlen(pei.pei_message)); }
        if (pei.pei_avp_free) fd_msg_free(pei.pei_avp);
    } else {
        put(&b, ",\"parse\":\"ok\"");
    }
    put_u32_of(&b, "result_code", child(m, "Result-Code"));
    er = child(m, "Experimental-Result");
    put_u32_of(&b, "experimental_result_code", er ? child(er, "Experimental-Result-Code") : NULL);
    put(&b, ",\"avps\":");
    put_avps(&b, m, &unknown);
    put(&b, ",\"unknown_avps\":%d}", unknown);
    emit(&b);
}

void record_event(const char *event, const char *label, const char *detail)
{
    struct buf b = {0};
    put(&b, "{\"event\":\"%s\",\"label\":", event);
    put_string(&b, label, strlen(label));
    put(&b, ",\"detail\":");
    put_string(&b, detail ? detail : "", detail ? strlen(detail) : 0);
    put(&b, "}");
    emit(&b);
}
