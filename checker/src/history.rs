//! A concurrent history: operations with a client, an input, an output and
//! the times of their call and return. An output of `None` is unknown (the
//! client timed out); a return of `None` means the operation is pending: it
//! may have taken effect at any time after its call, or never.

/// One operation of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    pub client: u64,
    pub input: I,
    /// `None` when the outcome is unknown.
    pub output: Option<O>,
    pub call: u64,
    /// `None` when the operation never returned (pending).
    pub ret: Option<u64>,
}

/// Builds a history from call and return events given in time order, as a
/// recorder or a log sees them. Time is the event's position.
#[derive(Debug)]
pub struct EventRecorder<I, O> {
    ops: Vec<Operation<I, O>>,
    /// For each client, the index of its open operation.
    open: std::collections::BTreeMap<u64, usize>,
    clock: u64,
}

impl<I, O> Default for EventRecorder<I, O> {
    fn default() -> Self {
        EventRecorder { ops: Vec::new(), open: Default::default(), clock: 0 }
    }
}

/// A call or return that does not fit the client's sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SequenceError {
    CallWhileOpen { client: u64 },
    ReturnWithoutCall { client: u64 },
}

impl std::fmt::Display for SequenceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SequenceError::CallWhileOpen { client } => {
                write!(f, "process {client} invokes an operation while its previous one is still open")
            }
            SequenceError::ReturnWithoutCall { client } => {
                write!(f, "process {client} completes an operation it never invoked")
            }
        }
    }
}

impl<I, O> EventRecorder<I, O> {
    pub fn call(&mut self, client: u64, input: I) -> Result<(), SequenceError> {
        let time = self.tick();
        self.call_at(client, input, time)
    }

    /// `call`, at a given time (times must not go back).
    pub fn call_at(&mut self, client: u64, input: I, time: u64) -> Result<(), SequenceError> {
        if self.open.contains_key(&client) {
            return Err(SequenceError::CallWhileOpen { client });
        }
        self.open.insert(client, self.ops.len());
        self.ops.push(Operation { client, input, output: None, call: time, ret: None });
        Ok(())
    }

    /// Completes the client's open operation; `output` `None` is unknown.
    /// Returns the completed operation so the caller can check it.
    pub fn ret(&mut self, client: u64, output: Option<O>) -> Result<&Operation<I, O>, SequenceError> {
        let time = self.tick();
        self.ret_at(client, output, time)
    }

    /// `ret`, at a given time.
    pub fn ret_at(&mut self, client: u64, output: Option<O>, time: u64) -> Result<&Operation<I, O>, SequenceError> {
        let i = self.open.remove(&client).ok_or(SequenceError::ReturnWithoutCall { client })?;
        let op = &mut self.ops[i];
        op.output = output;
        op.ret = Some(time);
        Ok(&self.ops[i])
    }

    /// The next position, for events without times.
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock - 1
    }

    /// The client's open operation stays pending forever (Jepsen's `:info`):
    /// the client is free to start another.
    pub fn abandon(&mut self, client: u64) -> Result<(), SequenceError> {
        self.open.remove(&client).map(|_| ()).ok_or(SequenceError::ReturnWithoutCall { client })
    }

    /// The input of the client's open operation, if any.
    pub fn open_input(&self, client: u64) -> Option<&I> {
        self.open.get(&client).map(|&i| &self.ops[i].input)
    }

    /// The history; operations still open stay pending.
    pub fn finish(self) -> Vec<Operation<I, O>> {
        self.ops
    }
}
