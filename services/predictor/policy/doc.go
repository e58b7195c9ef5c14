// Package policy is the online contextual bandit that chooses the planning knobs for each
// workflow: which runtime quantile to plan for, how much memory headroom to add and how
// far ahead to warm VMs.
//
// # Model
//
// LinUCB (Li, Chu, Langford & Schapire, "A Contextual-Bandit Approach to Personalized News
// Article Recommendation", WWW 2010) with the shared-feature form of its hybrid model
// (§3.2): one ridge regression over joint features z = x ⊗ ψ(a), where x is the workflow
// context and ψ(a) one-hot encodes each knob's value and ends with a slot common to every
// action, so that z also holds x itself: the context's baseline reward. A = λI + Σ zzᵀ,
// b = Σ r z, and an action is scored
//
//	θᵀz + α·σ̂·sqrt(zᵀ A⁻¹ z),    θ = A⁻¹ b,
//
// where σ̂ estimates the reward noise from the ridge residuals (shrunk toward 0.5 while
// few rewards are in): the confidence width is in units of the noise, and without σ̂ the
// same α explored as much on the benchmark, whose rewards differ between knob settings by
// a few hundredths, as on a problem whose rewards differ by halves.
//
// Sharing matters: with 18 actions, the disjoint model (one regression per action, their
// Algorithm 1) had learned almost nothing after 100 workflows in the synthetic learning
// curve, because each reward taught only one action; here a reward for "plan at P75"
// teaches every action with that quantile. The price is that knob effects are additive
// within a context (no quantile × headroom interaction): adding the pairwise or full
// interactions explored more and ended worse on the benchmark's 100 workflows. The
// baseline slot matters because workflows' baselines differ far more than knob effects
// do: without it a knob value learned the baselines of the families that happened to play
// it.
//
// # Replays
//
// Bandit feedback teaches one action per workflow, and a family's first dozen workflows
// cannot try eighteen actions, nor could the policy learn each family's own knobs from
// them. So when a workflow succeeds the predictor also replays it under every other
// action (Replay, Replayed): the binary gives it the simulator the benchmark runs, which
// plans the workflow as the allocator would have under that action and executes the plan
// on the runtimes the tasks were observed to take. The policy learns those rewards too,
// each at ReplayWeight against the played reward's 1, since the replay cannot know the
// launch latencies that would have been drawn and does not re-plan on drift. This is
// model-based counterfactual learning, as in Dyna (Sutton, "Integrated Architectures for
// Learning, Planning, and Reacting Based on Approximating Dynamic Programming", ICML
// 1990), with the simulator as the model. A workflow of more than the replayer's bound
// on tasks, or run where the catalog prices no machine, teaches only the action played.
//
// A simulator that is wrong about the workflow as a whole (machines that boot faster
// than the real ones, say) makes every replayed action look better or worse than the
// played one. Anchoring each replay to the played reward (learning played + ρ(a) −
// ρ(played), ρ the replayed rewards, the played action replayed too) would cancel that,
// but on the benchmark, whose reality is the simulator, it only added the played run's
// latency noise to every replay: mean last-20 objective 0.417 against 0.413 over seeds
// 1-6, and seed 2 fell from 0.434 to 0.455. Replays are unanchored; the weight of the
// played rewards (1 against 17 × ReplayWeight per workflow) bounds what such a bias can
// do to the played action's estimate.
//
// Two guards make it safe to run on production workflows:
//
//   - Safe default: until MinPulls rewards have been seen the policy plays action 0, the
//     operator's default, and says so.
//   - Bounded exploration: each workflow adds MaxExploreRegret to an exploration budget
//     and an exploratory (UCB) choice spends its estimated shortfall against the greedy
//     choice; when the budget cannot pay, the greedy choice is played. Average estimated
//     exploration loss per workflow is thus at most MaxExploreRegret, in the spirit of
//     conservative bandits (Wu, Shariff, Lattimore & Szepesvári, NeurIPS 2016). The safe
//     default's plays are the baseline, not exploration, and are not charged.
//
// Thompson sampling on the same posterior (Agrawal & Goyal, ICML 2013) was tried in place
// of the UCB choice under the same guards: on the benchmark's learning curve it explored
// more and ended worse, so the choice stays optimistic.
//
// Choices are deterministic (ties go to the lower index), so a replay reproduces them.
// The family enters the context through feature hashing (Weinberger et al., ICML 2009),
// so new families need no schema change.
package policy
