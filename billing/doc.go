// Package billing rates completed calls: it decides which legs of a
// callgraph.Call are billed, who pays each, and what each costs under a
// rate file of plans.
//
// A rate file (LoadRates, ParseRates; format in docs/billing.md) holds
// plans of destination rows matched by the longest prefix of the
// normalised number, each priced per minute in billing increments
// ("60/1", "30/6") or in groups priced differently (the first minute at
// one price, then per second at another), with a connect fee and a
// minimum. Money is decimal (github.com/shopspring/decimal) and rounded
// once per record, the way the plan says.
//
// A Rater bills the trunk legs of a call (or every leg), rounding each
// leg's exact millisecond billsec up to the increments. An outbound trunk
// leg is paid by the internal party that dialled it, or, under the
// Segments policy, shared between the internal parties that talked to it.
// Every record names the plan, row, increment and units that priced it;
// a record that cannot be priced says why in its Error.
//
// Quote and MaxSeconds answer prepaid questions: what a destination
// costs an account, and how long a call may last on a balance.
package billing
