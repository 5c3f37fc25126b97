/* portfile.c: writes the bound ports to $MEMCACHED_PORT_FILENAME so that a
 * test or a supervisor can start the server on a free port and find it. */
#include "config.h"
#include "portfile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static FILE *port_file;
static char *final_name, *temp_name;

void portfile_begin(void)
{
    const char *name = getenv("MEMCACHED_PORT_FILENAME");
    if (name == NULL || port_file != NULL)
        return;
    size_t len = strlen(name) + sizeof(".lck");
    final_name = strdup(name);
    temp_name = malloc(len);
    if (final_name == NULL || temp_name == NULL) {
        free(final_name);
        free(temp_name);
        final_name = temp_name = NULL;
        return;
    }
    snprintf(temp_name, len, "%s.lck", name);
    port_file = fopen(temp_name, "a");
    if (port_file == NULL)
        fprintf(stderr, "Failed to open \"%s\": %s\n", temp_name, strerror(errno));
}

void portfile_record(int fd, bool udp)
{
    if (port_file == NULL)
        return;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    const char *transport = udp ? "UDP" : "TCP";
    if (ss.ss_family == AF_INET)
        fprintf(port_file, "%s INET: %u\n", transport,
                (unsigned)ntohs(((struct sockaddr_in *)&ss)->sin_port));
    else if (ss.ss_family == AF_INET6)
        fprintf(port_file, "%s INET6: %u\n", transport,
                (unsigned)ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
}

void portfile_finish(void)
{
    if (port_file != NULL) {
        fclose(port_file);
        port_file = NULL;
        if (rename(temp_name, final_name) != 0)
            fprintf(stderr, "Failed to rename \"%s\": %s\n", temp_name, strerror(errno));
    }
    free(final_name);
    free(temp_name);
    final_name = temp_name = NULL;
}
