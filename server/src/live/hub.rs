//! Fan-out of live events to the streams watching them, in this process. A data plane's events are handed to
//! every matching watcher's bounded queue without waiting: a watcher that reads too slowly loses the oldest
//! events it has not read (and is told how many), and the data plane never waits for a browser.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::Notify;

use super::captures::Entities;
use super::protocol::Event;

/// How many events a watcher may have waiting before the oldest are dropped.
pub const QUEUE_CAPACITY: usize = 4096;

/// Which events a stream shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub entities: Entities,
    pub event_type: Option<String>,
    pub event_name: Option<String>,
    pub status: Option<String>,
}

impl Filter {
    pub fn matches(&self, event: &Event) -> bool {
        let entities = &self.entities;
        let entity = entities.is_whole_workspace()
            || event
                .source_id
                .as_ref()
                .is_some_and(|id| entities.sources.contains(id))
            || event
                .destination_id
                .as_ref()
                .is_some_and(|id| entities.destinations.contains(id));
        entity
            && self
                .event_type
                .as_ref()
                .is_none_or(|t| *t == event.event_type)
            && self
                .event_name
                .as_ref()
                .is_none_or(|n| *n == event.event_name)
            && self.status.as_ref().is_none_or(|s| *s == event.status)
    }
}

pub struct Watcher {
    id: u64,
    workspace_id: String,
    filter: Filter,
    queue: Mutex<VecDeque<Arc<Event>>>,
    ready: Notify,
    dropped: AtomicU64,
}

impl Watcher {
    /// Waits for events, then takes up to `max` of them, with the running total of events this watcher lost.
    pub async fn next_batch(&self, max: usize) -> (Vec<Arc<Event>>, u64) {
        loop {
            {
                let mut queue = self.queue.lock().expect("watcher queue");
                if !queue.is_empty() {
                    let n = queue.len().min(max);
                    let batch = queue.drain(..n).collect();
                    return (batch, self.dropped.load(Ordering::Relaxed));
                }
            }
            self.ready.notified().await;
        }
    }

    fn offer(&self, events: &[Arc<Event>]) {
        let mut queue = self.queue.lock().expect("watcher queue");
        let mut added = false;
        for event in events.iter().filter(|e| self.filter.matches(e)) {
            if queue.len() == QUEUE_CAPACITY {
                queue.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            queue.push_back(event.clone());
            added = true;
        }
        drop(queue);
        if added {
            self.ready.notify_one();
        }
    }
}

/// The watchers of this process, by workspace.
#[derive(Default)]
pub struct Hub {
    watchers: RwLock<HashMap<String, Vec<Arc<Watcher>>>>,
    next_id: AtomicU64,
}

/// A registered watcher; dropping it unregisters it.
pub struct Watching {
    hub: Arc<Hub>,
    pub watcher: Arc<Watcher>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        let mut all = self.hub.watchers.write().expect("hub");
        if let Some(list) = all.get_mut(&self.watcher.workspace_id) {
            list.retain(|w| w.id != self.watcher.id);
            if list.is_empty() {
                all.remove(&self.watcher.workspace_id);
            }
        }
    }
}

impl Hub {
    pub fn watch(self: &Arc<Hub>, workspace_id: &str, filter: Filter) -> Watching {
        let watcher = Arc::new(Watcher {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            workspace_id: workspace_id.to_string(),
            filter,
            queue: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            dropped: AtomicU64::new(0),
        });
        self.watchers
            .write()
            .expect("hub")
            .entry(workspace_id.to_string())
            .or_default()
            .push(watcher.clone());
        Watching {
            hub: self.clone(),
            watcher,
        }
    }

    /// Hands events to the workspace's watchers; never waits for them.
    pub fn publish(&self, workspace_id: &str, events: &[Arc<Event>]) {
        let watchers = match self.watchers.read().expect("hub").get(workspace_id) {
            Some(list) => list.clone(),
            None => return,
        };
        for watcher in watchers {
            watcher.offer(events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::live::LiveStage;

    fn event(source: &str, name: &str) -> Arc<Event> {
        Arc::new(Event {
            stage: LiveStage::Source,
            source_id: Some(source.into()),
            destination_id: None,
            transformation_id: None,
            event_name: name.into(),
            event_type: "track".into(),
            status: "received".into(),
            status_code: None,
            time: "2026-11-27T10:00:00Z".into(),
            payload: None,
            response: None,
            attempt: None,
            data_plane: None,
        })
    }

    #[tokio::test]
    async fn a_slow_watcher_loses_the_oldest_events_and_is_told_how_many() {
        let hub = Arc::new(Hub::default());
        let watching = hub.watch("ws", Filter::default());
        let events: Vec<_> = (0..QUEUE_CAPACITY + 10)
            .map(|i| event("s1", &format!("e{i}")))
            .collect();
        hub.publish("ws", &events);
        hub.publish("other", &events);
        let (batch, dropped) = watching.watcher.next_batch(usize::MAX).await;
        assert_eq!(dropped, 10);
        assert_eq!(batch.len(), QUEUE_CAPACITY);
        assert_eq!(batch[0].event_name, "e10");
    }

    #[tokio::test]
    async fn filters_and_unregistering() {
        let hub = Arc::new(Hub::default());
        let mut filter = Filter::default();
        filter.entities.sources.insert("s1".into());
        filter.event_name = Some("Signed Up".into());
        let watching = hub.watch("ws", filter);
        hub.publish(
            "ws",
            &[
                event("s2", "Signed Up"),
                event("s1", "Other"),
                event("s1", "Signed Up"),
            ],
        );
        let (batch, _) = watching.watcher.next_batch(10).await;
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].source_id.as_deref(), Some("s1"));
        drop(watching);
        assert!(hub.watchers.read().unwrap().is_empty());
    }
}
