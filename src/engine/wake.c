/*
 * wake.c
 *		Waking the worker when a transaction that enqueued work commits.
 *
 * A statement trigger on neon_platform.jobs marks the transaction; at commit
 * the worker's latch is set, so committed work starts at once, rolled-back
 * work never wakes anybody, and the idle worker needs no polling. The latch
 * lives in the worker's PGPROC, which is in shared memory, so no
 * process-local pointer is ever shared.
 */
#include "pg_prelude.h"

#include "engine/wake.h"

typedef struct WakeShared
{
	slock_t		mutex;
	Latch	   *worker_latch;	/* NULL while no worker runs */
} WakeShared;

/* True in the worker itself, whose own writes must not wake it. */
bool		neon_in_worker = false;

static WakeShared *wake_shared = NULL;
static bool wake_at_commit = false;
static bool xact_callback_registered = false;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PG_FUNCTION_INFO_V1(neon_platform_wake_worker);

#if PG_VERSION_NUM >= 150000
/* Asks for our slice of shared memory (PostgreSQL 15 and later). */
static void
wake_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(WakeShared)));
}
#endif

/* Finds or creates the shared state once the segment exists. */
static void
wake_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	wake_shared = ShmemInitStruct("neon_platform", sizeof(WakeShared), &found);
	if (!found)
	{
		SpinLockInit(&wake_shared->mutex);
		wake_shared->worker_latch = NULL;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Hooks the shared memory set-up; called from _PG_init. */
void
wake_register_shmem(void)
{
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = wake_shmem_request;
#else
	RequestAddinShmemSpace(MAXALIGN(sizeof(WakeShared)));
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = wake_shmem_startup;
}

/* Forgets the worker's latch when the worker exits. */
static void
wake_withdraw_worker(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	SpinLockAcquire(&wake_shared->mutex);
	if (wake_shared->worker_latch == MyLatch)
		wake_shared->worker_latch = NULL;
	SpinLockRelease(&wake_shared->mutex);
}

/* Publishes the running worker's latch; called once by the worker. */
void
wake_advertise_worker(void)
{
	neon_in_worker = true;
	SpinLockAcquire(&wake_shared->mutex);
	wake_shared->worker_latch = MyLatch;
	SpinLockRelease(&wake_shared->mutex);
	before_shmem_exit(wake_withdraw_worker, (Datum) 0);
}

/* Sets the worker's latch, if a worker runs. */
static void
wake_worker_now(void)
{
	Latch	   *latch;

	if (wake_shared == NULL)
		return;
	SpinLockAcquire(&wake_shared->mutex);
	latch = wake_shared->worker_latch;
	SpinLockRelease(&wake_shared->mutex);
	if (latch != NULL)
		SetLatch(latch);
}

/* Wakes the worker once the marked transaction has committed. */
static void
wake_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit)
				wake_worker_now();
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

/*
 * Trigger function of neon_platform.jobs: any insert or state change, also
 * one made by hand, wakes the worker when it commits.
 */
Datum
neon_platform_wake_worker(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("neon_platform.wake_worker() must be called as a trigger")));

	if (!neon_in_worker)
	{
		if (!xact_callback_registered)
		{
			RegisterXactCallback(wake_xact_callback, NULL);
			xact_callback_registered = true;
		}
		wake_at_commit = true;
	}
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(neon_platform_written_by_this_transaction);

/*
 * Whether a row's xmin belongs to this transaction or one of its
 * subtransactions: neon_wait() refuses to wait for a job the worker cannot
 * see before this transaction commits.
 */
Datum
neon_platform_written_by_this_transaction(PG_FUNCTION_ARGS)
{
	TransactionId xid = DatumGetTransactionId(PG_GETARG_DATUM(0));

	PG_RETURN_BOOL(TransactionIdIsCurrentTransactionId(xid));
}
