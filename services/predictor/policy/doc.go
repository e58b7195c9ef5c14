// Package policy is the online contextual bandit that chooses the planning knobs for each
// workflow: which runtime quantile to plan for, how much memory headroom to add and how
// far ahead to warm VMs.
//
// # Model
//
// Disjoint LinUCB (Li, Chu, Langford & Schapire, "A Contextual-Bandit Approach to
// Personalized News Article Recommendation", WWW 2010, Algorithm 1): each action a keeps a
// ridge regression A_a = I·λ + Σ x xᵀ, b_a = Σ r x, and scores a context x by
//
//	θ_aᵀx + α·sqrt(xᵀ A_a⁻¹ x),    θ_a = A_a⁻¹ b_a.
//
// Two guards make it safe to run on production workflows:
//
//   - Safe default: until MinPulls rewards have been seen the policy plays action 0, the
//     operator's default, and says so.
//   - Bounded exploration: the optimistic (UCB) choice is taken only when its estimated
//     mean reward is within MaxExploreRegret of the greedy choice's; otherwise the greedy
//     choice is played. This caps the expected cost of any one exploratory workflow, in
//     the spirit of conservative bandits (Wu, Shariff, Lattimore & Szepesvári, NeurIPS
//     2016).
//
// Choices are deterministic (ties go to the lower index), so a replay reproduces them.
// The family enters the context through feature hashing (Weinberger et al., ICML 2009),
// so new families need no schema change.
package policy
