// Package catalog describes the machines Foresight can ask a cloud for: instance types with
// their cores, memory and per-second price, the latency of getting one from each tier of the
// pool (hot = running and idle, warm = stopped standby that must be started, cold = a new
// launch), the cost of keeping a stopped standby (its root volume's storage), the billing
// rule and the account's quotas.
//
// Model. Prices follow the public on-demand price lists (AWS EC2, us-east-1, Linux); billing
// follows EC2's per-second rule with a 60 s minimum charged on every start. Tier latencies
// are lognormal distributions fitted to a published mean and a 90th percentile: cloud
// start-up times are positive and right-skewed (Mao & Humphrey, "A Performance Study on the
// VM Startup Time in the Cloud", IEEE CLOUD 2012), which a lognormal captures with two
// numbers. Latency.Sample maps a uniform u in (0,1) through the fitted quantile function,
// so a caller holding a seeded RNG gets reproducible draws.
//
// The embedded default (default.yaml) cites its sources next to each number; Load and Parse
// read the same format from any file, so a deployment swaps in its own region, prices and
// quotas without a rebuild.
package catalog
