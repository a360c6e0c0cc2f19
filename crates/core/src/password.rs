//! Argon2id password hashing on a bounded worker pool: one thread per core
//! takes hashes from a bounded queue, so a storm of logins queues here
//! instead of starving token checks, a worker starts its next hash the
//! moment it finishes one, and past the queue's bound callers get `Busy`
//! rather than waiting without end.

use crate::error::{AuthError, AuthResult};
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use std::sync::Arc;
use std::time::Duration;
use tessera_model::config::PasswordConfig;
use tokio::sync::oneshot;
use zeroize::Zeroizing;

/// Longest accepted password, in bytes: beyond this Argon2 input is just a
/// way to burn CPU.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes and verifies passwords. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

/// Work for a hashing thread.
type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// How long a hashing thread keeps its Argon2 memory with no work: under
/// a stream of logins every hash reuses it; an idle server holds none.
const KEEP_MEMORY_IDLE: Duration = Duration::from_secs(2);

/// A hashing thread's tools: the configured Argon2id and the memory it
/// hashes in. The memory (`m` KiB: 19 MiB at the defaults) is allocated
/// once per thread and reused by every hash, the way the argon2 crate's
/// `hash_password_into_with_memory` allows: allocating it per hash, as
/// `verify_password` does, maps and faults in 19 MiB of fresh pages every
/// time (kernel work of the order of a millisecond a hash). Allocated at
/// the first hash, not at start (a cold start must not fault in 19 MiB
/// per core), and freed after [`KEEP_MEMORY_IDLE`] without work. What
/// stays in it between hashes is the last hash's blocks, which the next
/// one overwrites; argon2 wipes the initial and final hash itself and
/// never wiped the blocks, so a per-hash allocation left them in freed
/// memory too.
pub(crate) struct Worker {
    argon: Argon2<'static>,
    memory: Vec<Block>,
}

impl Worker {
    fn new(argon: Argon2<'static>) -> Worker {
        Worker {
            argon,
            memory: Vec::new(),
        }
    }

    /// Gives the memory back (an idle thread holds none).
    fn release(&mut self) {
        self.memory = Vec::new();
    }

    /// Argon2 of `password` under `argon` (the configured instance when
    /// `None`) with the raw `salt`, into `out`: in this worker's memory, or
    /// for a stored hash that asks for more memory than configured, in
    /// memory of its own, freed after (the worker keeps only the configured
    /// size).
    fn hash_into(
        &mut self,
        argon: Option<&Argon2<'static>>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> argon2::Result<()> {
        let argon = argon.unwrap_or(&self.argon);
        let blocks = argon.params().block_count();
        let configured = self.argon.params().block_count();
        if blocks > configured {
            let mut own = vec![Block::default(); blocks];
            return argon.hash_password_into_with_memory(password, salt, out, &mut own);
        }
        if self.memory.len() < configured {
            self.memory.resize(configured, Block::default());
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut self.memory[..blocks])
    }

    /// A new PHC string for `password` under the configured parameters,
    /// with a random 16-byte salt.
    fn hash(&mut self, password: &[u8]) -> AuthResult<String> {
        let salt = SaltString::encode_b64(&crate::random::bytes32()[..16])
            .map_err(|e| AuthError::Internal(format!("salt: {e}")))?;
        let mut raw_salt = [0u8; 64];
        let raw_salt = salt
            .as_salt()
            .decode_b64(&mut raw_salt)
            .map_err(|e| AuthError::Internal(format!("salt: {e}")))?;
        let len = self
            .argon
            .params()
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = Output::init_with(len, |out| {
            self.hash_into(None, password, raw_salt, out)
                .map_err(argon2::password_hash::Error::from)
        })
        .map_err(|e| AuthError::Internal(format!("argon2: {e}")))?;
        Ok(phc(&self.argon, &salt, &output))
    }

    /// Whether `password` hashes to `phc`'s output under `phc`'s own
    /// algorithm, version, parameters and salt (constant-time compare).
    /// A hash that cannot be recomputed (unknown algorithm, bad
    /// parameters, no salt or output) does not match.
    fn verify(&mut self, password: &[u8], phc: &PasswordHash<'_>) -> bool {
        let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(phc.algorithm) else {
            return false;
        };
        let version = match phc.version.map(Version::try_from).transpose() {
            Ok(v) => v.unwrap_or_default(),
            Err(_) => return false,
        };
        let Ok(params) = Params::try_from(phc) else {
            return false;
        };
        let mut raw_salt = [0u8; 64];
        let Ok(raw_salt) = salt.decode_b64(&mut raw_salt) else {
            return false;
        };
        // The configured instance when the hash is under it (the usual
        // case); another one for a hash made under older parameters.
        let own = self.argon.params();
        let other = (algorithm != Algorithm::Argon2id
            || version != Version::V0x13
            || params.m_cost() != own.m_cost()
            || params.t_cost() != own.t_cost()
            || params.p_cost() != own.p_cost()
            // Associated data is part of the hash (a key id is not).
            || params.data() != own.data()
            || own.output_len().is_some_and(|len| len != expected.len()))
        .then(|| Argon2::new(algorithm, version, params));
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = &mut out[..expected.len()];
        if self.hash_into(other.as_ref(), password, raw_salt, out).is_err() {
            return false;
        }
        Output::new(out).is_ok_and(|computed| computed == expected)
    }
}

struct Inner {
    argon: Argon2<'static>,
    queue: Sender<Job>,
    /// A PHC string under the configured parameters with a random salt
    /// and a random output: verifying against it costs what verifying a
    /// known user's hash does (the whole Argon2 run, then a compare that
    /// fails), so an unknown user costs what a known one does.
    dummy: String,
}

impl PasswordHasher {
    /// `workers` is the number of hashes that may run at once (0 = cores).
    pub fn new(cfg: &PasswordConfig, workers: usize) -> AuthResult<Self> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| AuthError::InvalidInput(format!("argon2 parameters: {e}")))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let workers = if workers == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
        } else {
            workers
        };
        // Not a hash computed here: that would add one whole Argon2 run
        // (tens of ms) to every start.
        let dummy = dummy_phc(&argon)?;
        let (queue, jobs) = bounded::<Job>(workers * 256);
        for n in 0..workers {
            let (jobs, argon) = (jobs.clone(), argon.clone());
            std::thread::Builder::new()
                .name(format!("tessera-argon2-{n}"))
                .spawn(move || work(&jobs, &mut Worker::new(argon)))
                .map_err(|e| AuthError::Internal(format!("password worker thread: {e}")))?;
        }
        Ok(PasswordHasher {
            inner: Arc::new(Inner { argon, queue, dummy }),
        })
    }

    /// The PHC string of a new hash of `password`.
    pub async fn hash(&self, password: Zeroizing<String>) -> AuthResult<String> {
        check_length(&password)?;
        self.run(move |worker| worker.hash(password.as_bytes())).await?
    }

    /// Whether `password` matches `phc`. With no hash (unknown user, or a
    /// user without a local password) it still spends the same work on a
    /// dummy hash and answers `false`.
    pub async fn verify(&self, password: Zeroizing<String>, phc: Option<String>) -> AuthResult<bool> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let inner = self.inner.clone();
        self.run(move |worker| {
            let (target, real) = match &phc {
                Some(p) => (p.as_str(), true),
                None => (inner.dummy.as_str(), false),
            };
            let Ok(parsed) = PasswordHash::new(target) else {
                // A stored hash we cannot read: do the dummy work, fail closed.
                let _ = verify_with(worker, password.as_bytes(), &inner.dummy);
                return false;
            };
            let ok = worker.verify(password.as_bytes(), &parsed);
            ok && real
        })
        .await
    }

    /// Whether `phc` was made with other parameters than the configured
    /// ones (and so should be replaced at the next good login).
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        let want = self.inner.argon.params();
        parsed.algorithm.as_str() != "argon2id"
            || params.m_cost() != want.m_cost()
            || params.t_cost() != want.t_cost()
            || params.p_cost() != want.p_cost()
    }

    /// Runs `f` on a password worker (CPU-bound work kept off the async
    /// runtime, behind the same bounded queue as the hashes).
    ///
    /// Errors: [`AuthError::Busy`] when the queue is full.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker) -> T + Send + 'static,
    ) -> AuthResult<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |worker| {
            let _ = reply.send(f(worker));
        });
        match self.inner.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(AuthError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(AuthError::Internal("the password workers have stopped".into()))
            }
        }
        answer
            .await
            .map_err(|_| AuthError::Internal("a password worker dropped a job".into()))
    }
}

/// A hashing thread: takes the next job as soon as it is free. Ends when
/// every `PasswordHasher` handle is gone.
fn work(jobs: &Receiver<Job>, worker: &mut Worker) {
    loop {
        let next = match jobs.recv_timeout(KEEP_MEMORY_IDLE) {
            Err(RecvTimeoutError::Timeout) => {
                worker.release();
                jobs.recv().ok()
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Ok(job) => Some(job),
        };
        match next {
            Some(job) => job(worker),
            None => return,
        }
    }
}

fn check_length(password: &str) -> AuthResult<()> {
    if password.is_empty() {
        return Err(AuthError::InvalidInput("the password is empty".into()));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::InvalidInput(format!(
            "the password is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// A well-formed Argon2id PHC string with `argon`'s parameters, a random
/// salt and a random 32-byte output (no password hashes to it).
fn dummy_phc(argon: &Argon2<'_>) -> AuthResult<String> {
    let random = crate::random::bytes32();
    let salt =
        SaltString::encode_b64(&random[..16]).map_err(|e| AuthError::Internal(format!("salt: {e}")))?;
    let output = Output::new(&crate::random::bytes32())
        .map_err(|e| AuthError::Internal(format!("argon2 output: {e}")))?;
    Ok(phc(argon, &salt, &output))
}

/// The PHC string of an Argon2id (v=19) `output` under `argon`'s costs
/// with `salt`: what the argon2 crate's `hash_password` writes for
/// parameters with no key id, associated data or output length.
fn phc(argon: &Argon2<'_>, salt: &SaltString, output: &Output) -> String {
    let p = argon.params();
    format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        p.m_cost(),
        p.t_cost(),
        p.p_cost(),
        salt.as_str(),
        output
    )
}

fn verify_with(worker: &mut Worker, password: &[u8], phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| worker.verify(password, &h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> PasswordHasher {
        PasswordHasher::new(
            &PasswordConfig {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
                ..PasswordConfig::default()
            },
            2,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn hashes_verify_and_are_argon2id_phc_strings() {
        let h = fast();
        let phc = h.hash(Zeroizing::new("s3cret".into())).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(h
            .verify(Zeroizing::new("s3cret".into()), Some(phc.clone()))
            .await
            .unwrap());
        assert!(!h
            .verify(Zeroizing::new("s3cres".into()), Some(phc.clone()))
            .await
            .unwrap());
        assert!(!h.needs_rehash(&phc));
    }

    #[tokio::test]
    async fn unknown_users_and_garbage_hashes_fail_closed() {
        let h = fast();
        assert!(!h.verify(Zeroizing::new("anything".into()), None).await.unwrap());
        assert!(!h
            .verify(Zeroizing::new("x".into()), Some("not a hash".into()))
            .await
            .unwrap());
        assert!(h.needs_rehash("not a hash"));
        // The stand-in hash has the configured parameters, so verifying
        // against it costs a whole Argon2 run, as a real user's does.
        assert!(!h.needs_rehash(&h.inner.dummy));
        assert!(PasswordHash::new(&h.inner.dummy).is_ok());
    }

    #[tokio::test]
    async fn empty_and_huge_passwords_are_refused_with_a_reason() {
        let h = fast();
        let err = h.hash(Zeroizing::new(String::new())).await.unwrap_err();
        assert!(err.to_string().contains("empty"));
        let err = h.hash(Zeroizing::new("x".repeat(2000))).await.unwrap_err();
        assert!(err.to_string().contains("1024"));
    }

    /// The reused-memory path agrees with the argon2 crate's own
    /// `hash_password`/`verify_password` both ways, for hashes under the
    /// configured parameters and under others (another algorithm, more
    /// memory than the worker holds, a 16-byte output): stored hashes
    /// from before keep working, and what is stored now is standard PHC.
    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let h = fast();
        let salt = SaltString::encode_b64(b"sixteen-byte-slt").unwrap();
        let crate_made = [
            Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(64, 1, 1, None).unwrap(),
            ),
            Argon2::new(
                Algorithm::Argon2i,
                Version::V0x13,
                Params::new(64, 2, 1, None).unwrap(),
            ),
            Argon2::new(
                Algorithm::Argon2id,
                Version::V0x10,
                Params::new(256, 1, 2, Some(16)).unwrap(),
            ),
            // The configured costs, but associated data, which the hash
            // depends on.
            Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                argon2::ParamsBuilder::new()
                    .m_cost(64)
                    .t_cost(1)
                    .p_cost(1)
                    .data(argon2::AssociatedData::new(b"tenant-7").unwrap())
                    .build()
                    .unwrap(),
            ),
        ];
        for argon in &crate_made {
            let phc = argon.hash_password(b"Quill-Harbor-9", &salt).unwrap().to_string();
            assert!(
                h.verify(Zeroizing::new("Quill-Harbor-9".into()), Some(phc.clone()))
                    .await
                    .unwrap(),
                "{phc}"
            );
            assert!(
                !h.verify(Zeroizing::new("Quill-Harbor-8".into()), Some(phc.clone()))
                    .await
                    .unwrap(),
                "{phc}"
            );
        }
        let ours = h.hash(Zeroizing::new("Quill-Harbor-9".into())).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            crate_made[0].verify_password(b"Quill-Harbor-9", &parsed).is_ok(),
            "{ours}"
        );
        assert!(
            crate_made[0].verify_password(b"Quill-Harbor-8", &parsed).is_err(),
            "{ours}"
        );
    }

    #[tokio::test]
    async fn other_parameters_ask_for_a_rehash() {
        let h = fast();
        let other = PasswordHasher::new(
            &PasswordConfig {
                memory_kib: 128,
                iterations: 1,
                parallelism: 1,
                ..PasswordConfig::default()
            },
            1,
        )
        .unwrap();
        let phc = other.hash(Zeroizing::new("pw".into())).await.unwrap();
        assert!(h
            .verify(Zeroizing::new("pw".into()), Some(phc.clone()))
            .await
            .unwrap());
        assert!(h.needs_rehash(&phc));
    }
}
