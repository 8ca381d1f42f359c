#include "nft/pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/err.h"

/* A worker's stack: batch_talk keeps a 32 KiB answer buffer on it (musl's default is 128 KiB). */
#define WORKER_STACK (256 << 10)
#define DEFAULT_MAX 4

/* One mutex guards both queues and the stop flag; jobs are owned by whoever holds them off the
 * queues (the submitter until submit, one worker while it runs, the collector after). */
struct nft_pool {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a job was queued, or stop */
	pthread_cond_t done; /* a job finished */
	struct nft_job *todo, *todo_tail, *finished, *finished_tail;
	bool stop;
	unsigned n, started;
	unsigned out; /* submitted, not collected: the caller's thread only */
	pthread_t threads[NFT_POOL_MAX];
};

unsigned nft_pool_size(unsigned asked)
{
	if (asked > NFT_POOL_MAX)
		return NFT_POOL_MAX;
	if (asked)
		return asked;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus < 1 ? 1 : cpus > DEFAULT_MAX ? DEFAULT_MAX : (unsigned)cpus;
}

void nft_job_run(struct nft_job *j)
{
	int64_t t0 = mono_us();
	j->rc = 0;
	j->drifted = j->wrote = false;
	j->err[0] = '\0';
	/* Also before a change: element updates alone would leave drift (a new link) in place. */
	if (j->check_drift && j->applied.hash != 0) {
		bool present = false;
		struct nft_table_counts counts;
		if (nft_table_present(j->netns, &j->applied, &present, &counts, j->err,
				      sizeof j->err) < 0 ||
		    !nft_applied_intact(&j->applied, present, &counts)) {
			nft_applied_repair(&j->applied);
			j->drifted = true;
		}
	}
	if (j->applied.hash != j->hash) {
		j->wrote = true;
		j->rc = nft_apply(j->netns, j->rs, &j->applied, j->err, sizeof j->err);
	}
	j->us = mono_us() - t0;
}

static void push(struct nft_job **head, struct nft_job **tail, struct nft_job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static struct nft_job *pop(struct nft_job **head, struct nft_job **tail)
{
	struct nft_job *j = *head;
	if (j && !(*head = j->next))
		*tail = NULL;
	return j;
}

static void *worker(void *arg)
{
	struct nft_pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct nft_job *j;
		while (!(j = pop(&p->todo, &p->todo_tail)) && !p->stop)
			pthread_cond_wait(&p->work, &p->mu);
		if (!j)
			break;
		pthread_mutex_unlock(&p->mu);
		nft_job_run(j);
		pthread_mutex_lock(&p->mu);
		push(&p->finished, &p->finished_tail, j);
		pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct nft_pool *nft_pool_new(unsigned n, char *err, size_t errlen)
{
	struct nft_pool *p = calloc(1, sizeof *p);
	pthread_condattr_t ca;
	pthread_attr_t ta;
	sigset_t all, old;
	int rc = 0;

	if (!p) {
		errf(err, errlen, "out of memory");
		return NULL;
	}
	p->n = n < 1 ? 1 : n > NFT_POOL_MAX ? NFT_POOL_MAX : n;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, &ca);
	pthread_condattr_destroy(&ca);
	if (p->n == 1)
		return p;
	/* Workers take no signals: the agent reads them from its signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&ta);
	pthread_attr_setstacksize(&ta, WORKER_STACK);
	for (; p->started < p->n && rc == 0; p->started++)
		rc = pthread_create(&p->threads[p->started], &ta, worker, p);
	pthread_attr_destroy(&ta);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		p->started--;
		errf(err, errlen, "starting apply worker %u: %s", p->started + 1, strerror(rc));
		nft_pool_free(p);
		return NULL;
	}
	return p;
}

void nft_pool_free(struct nft_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

unsigned nft_pool_workers(const struct nft_pool *p)
{
	return p->n;
}

unsigned nft_pool_out(const struct nft_pool *p)
{
	return p->out;
}

void nft_pool_submit(struct nft_pool *p, struct nft_job *j)
{
	p->out++;
	if (p->started == 0) {
		nft_job_run(j);
		pthread_mutex_lock(&p->mu);
		push(&p->finished, &p->finished_tail, j);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	pthread_mutex_lock(&p->mu);
	push(&p->todo, &p->todo_tail, j);
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

struct nft_job *nft_pool_collect(struct nft_pool *p, int timeout_ms)
{
	struct timespec until;
	struct nft_job *j;

	clock_gettime(CLOCK_MONOTONIC, &until);
	if (timeout_ms > 0) {
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&p->mu);
	while (!(j = pop(&p->finished, &p->finished_tail)) && timeout_ms != 0 && p->out > 0) {
		int rc = timeout_ms < 0 ? pthread_cond_wait(&p->done, &p->mu)
					: pthread_cond_timedwait(&p->done, &p->mu, &until);
		if (rc == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&p->mu);
	if (j)
		p->out--;
	return j;
}
