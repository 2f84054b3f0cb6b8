"""What every room uses: the domain's words, refusals, languages, the company, the context.

`domain` (kinds, statuses, actions, events, limits), `errors` (refusals), `i18n` (catalogs),
`identity` (`slack:U123`, `telegram:42`), `company` (the validated departments file),
`context` (`Core`: the store, the company, the clock, translators, the router), `rows` (the
rows a use case works on), `inputs` (parsing what people type), `business_hours` (SLA
arithmetic), `telemetry` (`emit` for the metrics), `delivery_port` (what an adapter
implements to deliver).
"""
