//! What a RabbitMQ broker's management polls draw, apart from spans: queues and bound
//! exchanges as destinations, exchange → queue (or exchange) edges from bindings, a queue's
//! edge to its dead-letter exchange, and queue → consumer edges. A consumer is drawn on an
//! edge to the service spans show reading the queue (see
//! [`broker_readers`](super::broker_readers)), else to a consumer node of its own (its
//! client-provided connection name, or the connection). Depths, rates and routing keys are
//! not kept here but in `model::rabbitmq`; snapshots join the two.

use std::collections::{BTreeMap, BTreeSet};

use super::broker_readers::BrokerConsumer;
use super::{EdgeKind, FlowModel, NodeKind};
use crate::model::rabbitmq::{ManagementPoll, RABBITMQ_SYSTEM, RabbitEvent, RabbitRecord, destination_name};

impl FlowModel {
    /// Draws what a management poll shows.
    pub fn draw_rabbitmq(&mut self, record: &RabbitRecord) {
        let RabbitEvent::Management(poll) = &record.event else { return };
        for q in &poll.queues {
            let queue = destination_name(&q.vhost, &q.name);
            self.ensure_destination(RABBITMQ_SYSTEM, &queue);
            if let Some(dlx) = &q.dead_letter_exchange {
                let dlx = destination_name(&q.vhost, dlx);
                self.ensure_routes(&queue, &dlx, EdgeKind::DeadLetters);
            }
        }
        for b in &poll.bindings {
            let (from, to) = (destination_name(&b.vhost, &b.source), destination_name(&b.vhost, &b.destination));
            // An exchange and a queue of the same name share a node: nothing to draw.
            if from != to {
                self.ensure_routes(&from, &to, EdgeKind::Routes);
            }
        }
        self.alias_vhost_names(poll);
        for c in &poll.consumers {
            let queue = destination_name(&c.vhost, &c.queue);
            // A queue's consumers compete for its messages: they are one service's.
            let consumer = BrokerConsumer {
                system: RABBITMQ_SYSTEM,
                destination: &queue,
                who: c.who(),
                one_service: true,
                filters: &[],
            };
            self.ensure_broker_consumer(consumer);
        }
    }

    /// Spans do not say which vhost they publish in, and name an exchange `orders` where the
    /// broker has `shop/orders`: a name held in exactly one vhost other than `/` (and not in
    /// `/`) is that vhost's, for the spans that come after (a node spans drew before the
    /// poll keeps its own name).
    fn alias_vhost_names(&mut self, poll: &ManagementPoll) {
        let mut names: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let objects =
            poll.exchanges.iter().map(|e| (&e.vhost, &e.name)).chain(poll.queues.iter().map(|q| (&q.vhost, &q.name)));
        for (vhost, name) in objects {
            names.entry(name.as_str()).or_default().insert(vhost.as_str());
        }
        for (name, vhosts) in names {
            let mut only = vhosts.iter();
            let (Some(vhost), None) = (only.next(), only.next()) else { continue };
            if *vhost == "/" {
                continue;
            }
            let Some(&node) =
                self.destinations.get(RABBITMQ_SYSTEM).and_then(|d| d.get(&destination_name(vhost, name)))
            else {
                continue;
            };
            let named = self.destinations.entry(RABBITMQ_SYSTEM.to_owned()).or_default();
            named.entry(name.to_owned()).or_insert(node);
        }
    }

    fn ensure_routes(&mut self, from: &str, to: &str, kind: EdgeKind) {
        let from = self.named_node(NodeKind::Destination, RABBITMQ_SYSTEM, from);
        let to = self.named_node(NodeKind::Destination, RABBITMQ_SYSTEM, to);
        self.edge(from, to, kind);
    }
}

#[cfg(test)]
mod tests {
    use crate::model::flow_graph::{EdgeKind, FlowModel, JoinLimits};
    use crate::model::rabbitmq::{
        BindingInfo, ConsumerInfo, ExchangeInfo, ManagementPoll, QueueInfo, RabbitEvent, RabbitRecord,
    };

    fn record(poll: ManagementPoll) -> RabbitRecord {
        RabbitRecord {
            received_unix_nano: 0,
            server: "http://localhost:15672".into(),
            event: RabbitEvent::Management(poll),
        }
    }

    fn edges(model: &FlowModel) -> Vec<(String, String, EdgeKind)> {
        let g = model.graph();
        let mut edges: Vec<_> = g
            .edge_indices()
            .filter_map(|e| {
                let (a, b) = g.edge_endpoints(e)?;
                Some((g[a].key.label(), g[b].key.label(), g[e].kind))
            })
            .collect();
        edges.sort();
        edges
    }

    #[test]
    fn bindings_dead_letter_exchanges_and_consumers_are_drawn_once() {
        let mut model = FlowModel::new(JoinLimits::default());
        let queue = |vhost: &str, name: &str, dlx: Option<&str>| QueueInfo {
            vhost: vhost.into(),
            name: name.into(),
            dead_letter_exchange: dlx.map(Into::into),
            ..QueueInfo::default()
        };
        let bind = |source: &str, destination: &str| BindingInfo {
            vhost: "/".into(),
            source: source.into(),
            destination: destination.into(),
            routing_key: "order.*".into(),
            ..BindingInfo::default()
        };
        let consumer = |client_name: Option<&str>| ConsumerInfo {
            vhost: "/".into(),
            queue: "billing".into(),
            connection: "127.0.0.1:50000 -> 127.0.0.1:5672".into(),
            client_name: client_name.map(Into::into),
            ..ConsumerInfo::default()
        };
        let poll = ManagementPoll {
            exchanges: vec![ExchangeInfo { vhost: "/".into(), name: "orders".into(), kind: "topic".into() }],
            queues: vec![queue("/", "billing", Some("orders.dlx")), queue("shop", "audit", None)],
            bindings: vec![bind("orders", "billing"), bind("orders", "orders")],
            consumers: vec![consumer(Some("billing-svc")), consumer(None)],
            ..ManagementPoll::default()
        };
        model.draw_rabbitmq(&record(poll.clone()));
        model.draw_rabbitmq(&record(poll));
        let consumes = |to: &str| ("rabbitmq/billing".to_owned(), to.to_owned(), EdgeKind::Consumes);
        assert_eq!(
            edges(&model),
            [
                consumes("rabbitmq consumer 127.0.0.1:50000 -> 127.0.0.1:5672"),
                consumes("rabbitmq consumer billing-svc"),
                ("rabbitmq/billing".into(), "rabbitmq/orders.dlx".into(), EdgeKind::DeadLetters),
                ("rabbitmq/orders".into(), "rabbitmq/billing".into(), EdgeKind::Routes),
            ]
        );
        assert!(model.graph().node_weights().any(|n| n.key.label() == "rabbitmq/shop/audit"));
    }

    #[test]
    fn a_span_names_an_exchange_of_another_vhost_when_only_that_vhost_holds_the_name() {
        let exchange =
            |vhost: &str, name: &str| ExchangeInfo { vhost: vhost.into(), name: name.into(), kind: "topic".into() };
        let bind = |vhost: &str, source: &str, destination: &str| BindingInfo {
            vhost: vhost.into(),
            source: source.into(),
            destination: destination.into(),
            ..BindingInfo::default()
        };
        let queue =
            |vhost: &str, name: &str| QueueInfo { vhost: vhost.into(), name: name.into(), ..QueueInfo::default() };
        let mut model = FlowModel::new(JoinLimits::default());
        let poll = ManagementPoll {
            exchanges: vec![exchange("shop", "orders"), exchange("shop", "audit"), exchange("ops", "audit")],
            queues: vec![queue("shop", "billing"), queue("shop", "audit-log"), queue("ops", "audit-log")],
            bindings: vec![
                bind("shop", "orders", "billing"),
                bind("shop", "audit", "audit-log"),
                bind("ops", "audit", "audit-log"),
            ],
            ..ManagementPoll::default()
        };
        model.draw_rabbitmq(&record(poll));
        model.apply_span(&crate::testing::producer("checkout", "rabbitmq", "orders", 1, 1), 0);
        // Two vhosts hold `audit`: which one the span meant, nothing says.
        model.apply_span(&crate::testing::producer("checkout", "rabbitmq", "audit", 2, 2), 0);
        let produces: Vec<(String, String, EdgeKind)> =
            edges(&model).into_iter().filter(|(_, _, kind)| *kind == EdgeKind::Produces).collect();
        let produce = |to: &str| ("checkout".to_owned(), to.to_owned(), EdgeKind::Produces);
        assert_eq!(produces, [produce("rabbitmq/audit"), produce("rabbitmq/shop/orders")]);
    }

    #[test]
    fn a_span_publishing_to_an_exchange_meets_the_brokers_exchange_on_one_node() {
        let mut model = FlowModel::new(JoinLimits::default());
        model.apply_span(&crate::testing::producer("checkout", "rabbitmq", "orders", 1, 1), 0);
        let poll = ManagementPoll {
            queues: vec![QueueInfo { vhost: "/".into(), name: "billing".into(), ..QueueInfo::default() }],
            bindings: vec![BindingInfo {
                vhost: "/".into(),
                source: "orders".into(),
                destination: "billing".into(),
                ..BindingInfo::default()
            }],
            ..ManagementPoll::default()
        };
        model.draw_rabbitmq(&record(poll));
        let produces = ("checkout".to_owned(), "rabbitmq/orders".to_owned(), EdgeKind::Produces);
        let routes = ("rabbitmq/orders".to_owned(), "rabbitmq/billing".to_owned(), EdgeKind::Routes);
        assert_eq!(edges(&model), [produces, routes]);
    }
}
