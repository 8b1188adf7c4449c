//! The simulation as tasks see it: `Sim` owns a world and an executor and runs
//! the event loop; `SimHandle` is what the tester and the clerks hold to
//! sleep, call servers, spawn tasks and inject faults. A ported lab test reads
//! like the Go original: `h.sleep(ms(50)).await`, `h.call(..).await`.

use crate::call::{CallSlot, RpcError, Waiter};
use crate::executor::{with_join_handle, Executor, JoinHandle};
use crate::fault::Fault;
use crate::net::{LinkState, NetConfig, NetStats};
use crate::node::{Addr, Ctx, Node};
use crate::persist::Persister;
use crate::rng::SimRng;
use crate::time::Nanos;
use crate::trace::Trace;
use crate::world::{SimConfig, SimError, Stuck, World, OPEN_CALLS_LISTED};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

struct Shared<N: Node> {
    world: RefCell<World<N>>,
    executor: Executor,
}

/// One simulation run.
pub struct Sim<N: Node> {
    handle: SimHandle<N>,
    task_polls: std::cell::Cell<u64>,
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct RunStats {
    pub trace: Trace,
    pub virtual_time: Nanos,
    pub net: NetStats,
    pub task_polls: u64,
}

impl<N: Node> Sim<N> {
    pub fn new(config: SimConfig) -> Sim<N> {
        let shared = Shared { world: RefCell::new(World::new(config)), executor: Executor::default() };
        Sim { handle: SimHandle { shared: Rc::new(shared) }, task_polls: std::cell::Cell::new(0) }
    }

    pub fn handle(&self) -> SimHandle<N> {
        self.handle.clone()
    }

    /// Runs `main` (and every task it spawns) until `main` finishes, a task or
    /// node fails the run, every task waits with no event pending (deadlock),
    /// or a limit is reached.
    pub fn run<T: 'static>(&self, main: impl Future<Output = T> + 'static) -> Result<T, SimError> {
        let shared = &self.handle.shared;
        let (task, mut result) = with_join_handle(main);
        shared.executor.spawn("main".into(), task);
        let mut polls = 0;
        loop {
            polls += shared.executor.run_ready();
            if let Some((reason, at)) = shared.world.borrow_mut().failure.take() {
                return Err(SimError::Failed { reason, at });
            }
            if result.is_finished() {
                break;
            }
            let stepped = shared.world.borrow_mut().run_until_task_wakes();
            let stepped = match stepped {
                Ok(stepped) => stepped,
                Err(SimError::TimeLimit { limit, .. }) => {
                    return Err(SimError::TimeLimit { limit, stuck: self.stuck() })
                }
                Err(e) => return Err(e),
            };
            if !stepped {
                polls += shared.executor.run_ready();
                if result.is_finished() {
                    break;
                }
                let at = shared.world.borrow().now();
                return Err(SimError::Deadlock { at, stuck: self.stuck() });
            }
        }
        self.task_polls.set(polls);
        let waker = std::task::Waker::noop();
        match Pin::new(&mut result).poll(&mut Context::from_waker(waker)) {
            Poll::Ready(v) => Ok(v),
            Poll::Pending => unreachable!("the main task finished"),
        }
    }

    /// What the run is waiting for: unfinished tasks and open calls.
    fn stuck(&self) -> Stuck {
        let shared = &self.handle.shared;
        Stuck {
            waiting_tasks: shared.executor.waiting_task_names(),
            open_calls: shared.world.borrow().describe_open_calls(OPEN_CALLS_LISTED),
        }
    }

    /// The run's trace and counters so far.
    pub fn stats(&self) -> RunStats {
        let world = self.handle.shared.world.borrow();
        RunStats {
            trace: world.trace.clone(),
            virtual_time: world.now(),
            net: world.stats(),
            task_polls: self.task_polls.get(),
        }
    }
}

impl<N: Node> Drop for Sim<N> {
    fn drop(&mut self) {
        self.handle.shared.executor.drop_tasks();
    }
}

impl<N: Node> std::ops::Deref for Sim<N> {
    type Target = SimHandle<N>;
    fn deref(&self) -> &SimHandle<N> {
        &self.handle
    }
}

/// The tasks' view of a running simulation. Cheap to clone.
pub struct SimHandle<N: Node> {
    shared: Rc<Shared<N>>,
}

impl<N: Node> Clone for SimHandle<N> {
    fn clone(&self) -> Self {
        SimHandle { shared: self.shared.clone() }
    }
}

impl<N: Node> SimHandle<N> {
    /// Whether the harness's own checks run (`SimConfig::harness_checks`).
    pub fn harness_checks(&self) -> bool {
        self.shared.world.borrow().config.harness_checks
    }

    /// Notes a fact about the run, once (`World::note`).
    pub fn note(&self, text: String) {
        self.shared.world.borrow_mut().note(text);
    }

    /// Borrows the world for a moment. Never hold it across an `.await`.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World<N>) -> R) -> R {
        f(&mut self.shared.world.borrow_mut())
    }

    pub fn now(&self) -> Nanos {
        self.shared.world.borrow().now()
    }

    pub fn seed(&self) -> u64 {
        self.shared.world.borrow().seed()
    }

    /// Sleeps `duration` of virtual time.
    pub fn sleep(&self, duration: Nanos) -> Sleep<N> {
        let deadline = self.now() + duration;
        Sleep { handle: self.clone(), deadline, registered: false }
    }

    /// Runs `future` for at most `duration`; `None` when time ran out first.
    pub fn timeout<F: Future>(&self, duration: Nanos, future: F) -> Timeout<N, F> {
        Timeout { future: Box::pin(future), sleep: self.sleep(duration) }
    }

    /// Spawns a named task (the name shows in deadlock reports).
    pub fn spawn<T: 'static>(
        &self,
        name: impl Into<String>,
        future: impl Future<Output = T> + 'static,
    ) -> JoinHandle<T> {
        let (task, handle) = with_join_handle(future);
        self.shared.executor.spawn(name.into(), task);
        handle
    }

    /// Draws from the workload stream.
    pub fn with_rng<R>(&self, f: impl FnOnce(&mut SimRng) -> R) -> R {
        f(&mut self.shared.world.borrow_mut().workload_rng)
    }

    /// Fails the run (the lab's `t.Fatalf`): the event loop stops at once.
    pub fn fail(&self, reason: impl Into<String>) {
        self.shared.world.borrow_mut().record_failure(reason.into());
    }

    // ----- endpoints, servers and faults -----

    pub fn add_server(&self, name: impl Into<String>) -> Addr {
        self.with_world(|w| w.add_server(name))
    }

    pub fn add_client(&self, name: impl Into<String>) -> Addr {
        self.with_world(|w| w.add_client(name))
    }

    pub fn start(&self, server: Addr, make: impl FnOnce(&mut Ctx<'_, N>) -> N) {
        self.with_world(|w| w.start(server, make))
    }

    pub fn try_start<E>(&self, server: Addr, make: impl FnOnce(&mut Ctx<'_, N>) -> Result<N, E>) -> Result<(), E> {
        self.with_world(|w| w.try_start(server, make))
    }

    pub fn is_alive(&self, server: Addr) -> bool {
        self.shared.world.borrow().is_alive(server)
    }

    /// Runs `f` on a running server's node; `None` if it is dead.
    pub fn with_node<R>(&self, server: Addr, f: impl FnOnce(&mut N, &mut Ctx<'_, N>) -> R) -> Option<R> {
        self.with_world(|w| w.with_node(server, f))
    }

    /// Reads a running server's node without giving it a step (no
    /// inspector runs: nothing changed); `None` if it is dead.
    pub fn read_node<R>(&self, server: Addr, f: impl FnOnce(&N) -> R) -> Option<R> {
        self.with_world(|w| w.node(server).map(f))
    }

    /// Adds a check of `server`'s node after each of its steps (see
    /// `World::add_inspector`).
    pub fn add_inspector(&self, server: Addr, inspector: crate::node::Inspector<N>) {
        self.with_world(|w| w.add_inspector(server, inspector));
    }

    pub fn with_persister<R>(&self, server: Addr, f: impl FnOnce(&Persister) -> R) -> R {
        f(self.shared.world.borrow().persister(server))
    }

    /// Applies a fault (see `Fault`): links, network settings, crashes,
    /// pauses, timer drift.
    pub fn inject(&self, fault: Fault) {
        self.with_world(|w| w.inject(fault))
    }

    // ----- the network -----

    /// Calls server `to` from endpoint `from`; resolves to the reply or to
    /// `Err` when labrpc's `Call` would return false. The call leaves at once.
    pub fn call(&self, from: Addr, to: Addr, msg: N::Msg) -> CallFuture<N::Msg> {
        let slot = Rc::new(RefCell::new(CallSlot { result: None, waker: None }));
        self.with_world(|w| w.send_call(from, to, msg, Waiter::Task(slot.clone())));
        CallFuture { slot }
    }

    pub fn link(&self, from: Addr, to: Addr) -> LinkState {
        self.shared.world.borrow().link(from, to)
    }

    pub fn net_config(&self) -> NetConfig {
        self.shared.world.borrow().net_config()
    }

    pub fn net_stats(&self) -> NetStats {
        self.shared.world.borrow().stats()
    }

    /// Counts the bytes of every message from now on (labrpc's
    /// `GetTotalBytes`, in [`NetStats::total_bytes`]). Off by default:
    /// sizing every message costs, and only a test of bandwidth reads it.
    pub fn count_bytes(&self) {
        self.shared.world.borrow_mut().count_bytes();
    }

    pub fn dispatched_count(&self, server: Addr) -> u64 {
        self.shared.world.borrow().dispatched_count(server)
    }
}

/// Resolves once virtual time reaches its deadline.
pub struct Sleep<N: Node> {
    handle: SimHandle<N>,
    deadline: Nanos,
    registered: bool,
}

impl<N: Node> Future for Sleep<N> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.handle.now() >= self.deadline {
            return Poll::Ready(());
        }
        if !self.registered {
            self.registered = true;
            let (deadline, waker) = (self.deadline, cx.waker().clone());
            self.handle.with_world(|w| w.schedule_wake(deadline, waker));
        }
        Poll::Pending
    }
}

/// `future`, or `None` once the sleep ends first.
pub struct Timeout<N: Node, F: Future> {
    future: Pin<Box<F>>,
    sleep: Sleep<N>,
}

impl<N: Node, F: Future> Future for Timeout<N, F> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(v) = self.future.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        match Pin::new(&mut self.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<N: Node> Unpin for Sleep<N> {}

/// The outcome of one call made by a task.
pub struct CallFuture<M> {
    slot: Rc<RefCell<CallSlot<M>>>,
}

impl<M> Future for CallFuture<M> {
    type Output = Result<M, RpcError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.borrow_mut();
        match slot.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
