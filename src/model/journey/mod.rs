//! Per-event journeys: one business event followed across every service, topic and trace it
//! touches. Assembled incrementally as spans and messages arrive ([`JourneyStore`]), listed
//! ([`JourneyList`]), searched ([`JourneyQuery`]) and laid out for the waterfall
//! ([`JourneyDetail`]). See `docs/journeys.md`.

pub mod accum;
pub mod detail;
pub mod expect;
pub mod query;
pub mod role;
pub mod slab;
pub mod step;
pub mod store;
pub mod stored;
pub mod summary;

pub use detail::{JourneyDetail, JourneyPath, MessageView, WaterfallRow};
pub use expect::{Expectations, ExpectationsKey};
pub use query::{JourneyQuery, QueryError};
pub use role::SpanRole;
pub use step::MessageStep;
pub use store::{JourneyCounters, JourneySettings, JourneyStore};
pub use summary::{DerivedRow, JourneyId, JourneyList, JourneyStatus, JourneySummary};
