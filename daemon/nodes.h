/*
 * nodes.h - what the daemon does for nodes besides answering them
 * (api/nodes.c).
 */
#ifndef CL_DAEMON_NODES_H
#define CL_DAEMON_NODES_H

#include "arena.h"
#include "http.h"
#include "pg.h"

struct cl_daemon;

/* One round of the node-watch duty (duty.c): active nodes whose last
 * heartbeat is older than their account's heartbeat timeout become
 * unreachable, each transition a node event and audited; the signatures
 * kept against replays (daemon/auth.c) are forgotten once too old to
 * matter. */
void cl_nodes_watch(struct cl_daemon *d, cl_pg *db, cl_arena *a);

/* A node_approval task was decided (api/tasks.c): a node still
 * pending_approval becomes active, or, denied, revoked (its certificate
 * on the CRL); a node event either way. */
int cl_nodes_decided(cl_req *r, cl_pg *db, const char *node_id, int approved);

#endif
