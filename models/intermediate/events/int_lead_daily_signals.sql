-- The compact aggregate the scores read: per lead, per day, per signal (event type,
-- page type, category, product view, search terms, store page, session) the number of
-- events and the first / last time. identity_linked_at is kept in the key so that
-- history stitched to a lead only counts from the moment of the link.
{{ lead_signals_from_events(ref('int_events_sessionized')) }}
