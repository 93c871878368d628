/*
 * fake_mt_client.c - start and stop tests/servers/fake_mt.py from a C test.
 */
#include "fake_mt_client.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int fake_mt_start(struct fake_mt *f, const char *script, const char *key)
{
    memset(f, 0, sizeof(*f));
    const char *servers = getenv("WP_TEST_SERVERS");
    char server[512];
    snprintf(server, sizeof(server), "%s/fake_mt.py", servers ? servers : "tests/servers");
    snprintf(f->log, sizeof(f->log), "/tmp/wp-fake-mt-XXXXXX");
    int fd = mkstemp(f->log);
    if (fd < 0)
        return -1;
    close(fd);
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return -1;
    f->pid = fork();
    if (f->pid < 0)
        return -1;
    if (f->pid == 0) {
        /* A failed assertion skips fake_mt_stop(): never outlive the test. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        close(pipefd[1]);
        if (key)
            setenv("FAKE_MT_KEY", key, 1);
        else
            unsetenv("FAKE_MT_KEY");
        execlp("python3", "python3", server, "--log", f->log, "--script", script ? script : "",
               (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    FILE *in = fdopen(pipefd[0], "r");
    char line[32] = "";
    if (!in || !fgets(line, sizeof(line), in)) {
        if (in)
            fclose(in);
        fake_mt_stop(f);
        return -1;
    }
    fclose(in);
    f->port = (int)strtol(line, NULL, 10);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
    return f->port > 0 ? 0 : -1;
}

void fake_mt_stop(struct fake_mt *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
    }
    if (f->log[0])
        unlink(f->log);
    f->pid = 0;
}

char *fake_mt_slurp(const char *path)
{
    FILE *in = fopen(path, "rb");
    if (!in)
        return NULL;
    size_t cap = 4096, len = 0;
    char *data = malloc(cap);
    size_t n;
    while (data && (n = fread(data + len, 1, cap - len - 1, in)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *bigger = realloc(data, cap * 2);
            if (!bigger) {
                free(data);
                data = NULL;
                break;
            }
            data = bigger;
            cap *= 2;
        }
    }
    fclose(in);
    if (data)
        data[len] = '\0';
    return data;
}

json_t *fake_mt_requests(const struct fake_mt *f)
{
    json_t *all = json_array();
    char *text = fake_mt_slurp(f->log);
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        else
            next = line + strlen(line);
        json_t *entry = json_loads(line, 0, NULL);
        if (entry)
            json_array_append_new(all, entry);
    }
    free(text);
    return all;
}

size_t fake_mt_count(const struct fake_mt *f)
{
    json_t *all = fake_mt_requests(f);
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}
