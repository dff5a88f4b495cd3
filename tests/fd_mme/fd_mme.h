/*
 * fd_mme: what the extension's three files share.  See fd_mme.c.
 */

#ifndef FD_MME_H
#define FD_MME_H

#include <freeDiameter/extension.h>

#define S6A_APP_ID 16777251
#define S13_APP_ID 16777252
#define VENDOR_3GPP 10415

/* Shared between our files only: kept out of the symbols freeDiameter
 * (which loads extensions RTLD_GLOBAL) could see. */
#pragma GCC visibility push(hidden)

/* fd_mme_dict.c: the S6a and S13 dictionary (what the loaded ones lack). */
extern struct dictionary *dict;
extern struct dict_object *s6a_app, *s13_app, *vendor_3gpp;
extern int created_avps, created_commands, created_rules, existing_rules;
int ensure_dictionary(void);
struct dict_object *find_avp(const char *name);
struct dict_object *find_cmd(const char *name);

/* fd_mme_record.c: the output file, one JSON object per line. */
struct buf { char *data; size_t len, cap; };
void put(struct buf *b, const char *format, ...) __attribute__((format(printf, 2, 3)));
void put_string(struct buf *b, const char *s, size_t len);
int open_output(const char *path);
void close_output(void);
void emit(struct buf *b);
void record(const char *event, const char *label, struct msg *m);
void record_event(const char *event, const char *label, const char *detail);

#pragma GCC visibility pop

#endif
