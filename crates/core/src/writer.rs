//! The group-commit writer: token issues and refresh rotations from every
//! request are queued here and landed by one task, many per transaction
//! (`Store::write_batch`). Under load, batches grow on their own; when
//! idle, a job is written at once. A caller is answered only after its
//! job's commit.

use crate::error::{AuthError, AuthResult};
use tessera_store::{Store, StoreError, WriteJob, WriteOutcome};
use tokio::sync::{mpsc, oneshot};

/// Most jobs in one transaction.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<WriteOutcome, String>>;

/// A handle to the writer task; the task ends when the last handle drops.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<(WriteJob, Reply)>,
}

impl Writer {
    /// Starts the writer on a thread of its own. A batch is a chain of
    /// round trips to the database; on the shared runtime each wake-up
    /// would queue behind the HTTP tasks, and the batches would spend most
    /// of their time waiting to be scheduled.
    pub fn start(store: Store) -> AuthResult<Writer> {
        let (tx, rx) = mpsc::channel(8 * MAX_BATCH);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| AuthError::Internal(format!("writer runtime: {e}")))?;
        std::thread::Builder::new()
            .name("tessera-writer".into())
            .spawn(move || runtime.block_on(run(store, rx)))
            .map_err(|e| AuthError::Internal(format!("writer thread: {e}")))?;
        Ok(Writer { tx })
    }

    /// Queues `job` and waits for its commit.
    pub async fn submit(&self, job: WriteJob) -> AuthResult<WriteOutcome> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((job, reply))
            .await
            .map_err(|_| AuthError::Internal("the writer has stopped".into()))?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(e)) => Err(AuthError::Store(StoreError::Batch(e))),
            Err(_) => Err(AuthError::Internal("the writer dropped a job".into())),
        }
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<(WriteJob, Reply)>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    while let Some((job, reply)) = rx.recv().await {
        jobs.push(job);
        replies.push(reply);
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((job, reply)) => {
                    jobs.push(job);
                    replies.push(reply);
                }
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let result = store.write_batch(&jobs).await;
        tracing::debug!(
            jobs = jobs.len(),
            micros = started.elapsed().as_micros() as u64,
            "batch written"
        );
        match result {
            Ok(outcomes) => {
                for (reply, outcome) in replies.drain(..).zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = jobs.len(), "token writes failed");
                let text = e.to_string();
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(text.clone()));
                }
            }
        }
        jobs.clear();
        replies.clear();
    }
}
