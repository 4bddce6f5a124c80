/*
 * The option builders (options.h). A setting with no field here is read
 * by the daemon itself (log_level, epm_every) or by plan building.
 */
#include "daemon/options.h"

struct pw_engine_options pw_options_engine(const struct pw_config *c)
{
    const struct pw_settings *s = &c->s;
    return (struct pw_engine_options){
        .interval_ms = s->interval_ms,
        .timeout_ms = s->timeout_ms,
        .max_in_flight = (uint32_t)s->max_in_flight,
        .max_per_host = (uint32_t)s->max_per_host,
        .fail_after = (uint32_t)s->fail_after,
        .recover_after = (uint32_t)s->recover_after,
        .family = (enum pw_family)s->family,
    };
}

struct pw_store_options pw_options_store(const struct pw_config *c)
{
    const struct pw_settings *s = &c->s;
    return (struct pw_store_options){
        .keep_raw_ms = s->keep_raw_ms,
        .keep_hourly_ms = s->keep_hourly_ms,
        .keep_events_ms = s->keep_events_ms,
    };
}

struct pw_web_options pw_options_web(const struct pw_config *c)
{
    const struct pw_settings *s = &c->s;
    return (struct pw_web_options){
        .listen = s->listen,
        .api_token = s->api_token,
        .allow_anonymous = s->allow_anonymous != 0,
        .tls_cert_file = s->tls_certificate,
        .tls_key_file = s->tls_key,
        .tls_priorities = s->tls_priorities,
        .max_connections = (unsigned)s->http_max_connections,
        .max_per_ip = (unsigned)s->http_max_per_ip,
        .timeout_s = (unsigned)(s->http_timeout_ms / 1000),
    };
}
