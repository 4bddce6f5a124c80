/*
 * GET /api/v1/hosts (api_hosts.c): the farm summarised per host and role
 * for the dashboard's overview, so a browser never downloads and parses
 * every target of a large farm to draw the hosts x roles grid.
 */
#ifndef PW_WEB_API_HOSTS_H
#define PW_WEB_API_HOSTS_H

#include "web/req.h"

void pw_api_hosts(struct pw_req *r, struct pw_reply *out);

#endif
