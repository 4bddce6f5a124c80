/* Temporary: `run` until the store and web layers land. */
#include "daemon/cli.h"

#include <stdio.h>

static int pending(const struct pw_command *cmd, const struct pw_args *a)
{
    struct pw_config *c = pw_cli_config(cmd, a);
    if (!c)
        return PW_EXIT_USAGE;
    pw_config_free(c);
    fprintf(stderr, "portwatch %s: the probe engine is not built into this version yet\n", a->cmd);
    return PW_EXIT_USAGE;
}

int pw_cmd_run(const struct pw_command *cmd, const struct pw_args *a)
{
    return pending(cmd, a);
}
