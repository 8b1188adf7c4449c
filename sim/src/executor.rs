//! A single-threaded executor for the tester's and clients' async tasks.
//! Tasks are polled in the order they were woken; nothing here knows about
//! time: sleeping is a simulator event that wakes a task (see `handle.rs`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

type BoxedTask = Pin<Box<dyn Future<Output = ()>>>;

struct TaskSlot {
    name: String,
    /// `None` while the task is being polled.
    future: Option<BoxedTask>,
    waker: Waker,
}

/// The queue of woken task ids. `Waker` must be `Send + Sync`, so this is a
/// mutex, but it is only ever touched by the simulation's own thread.
#[derive(Default)]
struct ReadyQueue {
    ids: Mutex<VecDeque<usize>>,
}

struct TaskWaker {
    id: usize,
    queue: Arc<ReadyQueue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.queue.ids.lock().expect("ready queue poisoned").push_back(self.id);
    }
}

/// The set of live tasks and the queue of those ready to run.
#[derive(Default)]
pub struct Executor {
    tasks: RefCell<Vec<Option<TaskSlot>>>,
    ready: Arc<ReadyQueue>,
    live: std::cell::Cell<usize>,
}

impl Executor {
    /// Adds a task; it is polled for the first time at the next `run_ready`.
    pub fn spawn(&self, name: String, future: impl Future<Output = ()> + 'static) {
        let mut tasks = self.tasks.borrow_mut();
        let id = tasks.len();
        let waker = Waker::from(Arc::new(TaskWaker { id, queue: self.ready.clone() }));
        waker.wake_by_ref();
        tasks.push(Some(TaskSlot { name, future: Some(Box::pin(future)), waker }));
        self.live.set(self.live.get() + 1);
    }

    fn pop_ready(&self) -> Option<usize> {
        self.ready.ids.lock().expect("ready queue poisoned").pop_front()
    }

    /// Polls woken tasks until none is ready. Returns how many polls ran.
    pub fn run_ready(&self) -> u64 {
        let mut polls = 0;
        while let Some(id) = self.pop_ready() {
            let taken = {
                let mut tasks = self.tasks.borrow_mut();
                match tasks[id].as_mut() {
                    Some(slot) => slot.future.take().map(|f| (f, slot.waker.clone())),
                    None => None, // finished; a stale wake
                }
            };
            let Some((mut future, waker)) = taken else { continue };
            polls += 1;
            let done = future.as_mut().poll(&mut Context::from_waker(&waker)).is_ready();
            let mut tasks = self.tasks.borrow_mut();
            if done {
                tasks[id] = None;
                self.live.set(self.live.get() - 1);
            } else if let Some(slot) = tasks[id].as_mut() {
                slot.future = Some(future);
            }
        }
        polls
    }

    /// Drops every unfinished task. Tasks hold handles to the simulation
    /// that owns them, so a run that ends with tasks still waiting (it
    /// failed, or its main task returned first) would otherwise keep its
    /// whole world alive.
    pub fn drop_tasks(&self) {
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        self.live.set(0);
        drop(tasks); // outside the borrow: a task's drop may touch the executor
    }

    /// Number of tasks that have not finished.
    pub fn live_tasks(&self) -> usize {
        self.live.get()
    }

    /// Names of the tasks that have not finished, in spawn order.
    pub fn waiting_task_names(&self) -> Vec<String> {
        self.tasks.borrow().iter().flatten().map(|t| t.name.clone()).collect()
    }
}

struct JoinState<T> {
    result: Option<T>,
    waiter: Option<Waker>,
}

/// Waits for a spawned task's result.
pub struct JoinHandle<T> {
    state: Rc<RefCell<JoinState<T>>>,
}

impl<T> JoinHandle<T> {
    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        self.state.borrow().result.is_some()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.state.borrow_mut();
        match state.result.take() {
            Some(v) => Poll::Ready(v),
            None => {
                state.waiter = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Wraps `future` so that its output lands in the returned handle.
pub fn with_join_handle<T: 'static>(
    future: impl Future<Output = T> + 'static,
) -> (impl Future<Output = ()> + 'static, JoinHandle<T>) {
    let state = Rc::new(RefCell::new(JoinState { result: None, waiter: None }));
    let inner = state.clone();
    let task = async move {
        let value = future.await;
        let waiter = {
            let mut s = inner.borrow_mut();
            s.result = Some(value);
            s.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    };
    (task, JoinHandle { state })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_tasks_and_joins() {
        let exec = Rc::new(Executor::default());
        let log = Rc::new(RefCell::new(Vec::new()));
        let (task, handle) = with_join_handle(async { 41 + 1 });
        exec.spawn("answer".into(), task);
        let l = log.clone();
        exec.spawn("joiner".into(), async move {
            let v = handle.await;
            l.borrow_mut().push(v);
        });
        exec.run_ready();
        assert_eq!(*log.borrow(), vec![42]);
        assert_eq!(exec.live_tasks(), 0);
    }

    #[test]
    fn a_task_that_never_wakes_stays_live() {
        let exec = Executor::default();
        exec.spawn("stuck".into(), std::future::pending::<()>());
        exec.run_ready();
        assert_eq!(exec.waiting_task_names(), vec!["stuck".to_string()]);
    }
}
