/*
 * From a configuration to the options of the parts it drives: one builder
 * per consumer, used by `run` (at start and on reload), `check` and the
 * benchmark drivers, so each setting is copied in one place. config/ sits
 * below probes/, store/ and web/ and cannot know their option structs;
 * these builders sit above all four.
 *
 * They copy settings only. What depends on how the part is run (the
 * engine's spread, dialer and fd_limit; log sinks; the web's thread
 * counts) is the caller's to add.
 */
#ifndef PW_OPTIONS_H
#define PW_OPTIONS_H

#include "config/config.h"
#include "probes/probe.h"
#include "store/store.h"
#include "web/web.h"

struct pw_engine_options pw_options_engine(const struct pw_config *c);
struct pw_store_options pw_options_store(const struct pw_config *c);
/* The strings point into c, which must outlive the web server's start. */
struct pw_web_options pw_options_web(const struct pw_config *c);

#endif
