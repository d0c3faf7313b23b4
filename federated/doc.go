// Package federated simulates cross-silo federated learning with non-IID clients and the
// algorithms of Cheng, Huang, Wu & Yuan, "Momentum Benefits Non-IID Federated Learning Simply and
// Provably" (arXiv 2306.16504, ICLR 2024), beside their baselines.
//
// The simulation: N clients hold disjoint parts of a training set, split by label with a
// Dirichlet(α) draw per class (DirichletSplit: small α = each client sees few classes, large α ≈
// IID). Each communication round r the server samples S of the N clients uniformly without
// replacement (SampleClients, deterministic by seed and round); each sampled client runs K local
// steps of size η on mini-batches of its own data (Batch examples drawn with replacement, or its
// whole data when Batch = 0) and uploads one vector; the server updates the global model x.
// Clients are weighted equally, as in the paper (not by data size).
//
// Algorithms (registered by name, see Names; Config.Beta is the paper's β, Config.ServerLR the
// global step):
//
//	fedavg          y ← y − η∇F_i(y; ξ);  x ← x + η_g·mean_{i∈S}(y_i − x)                 (McMahan et al.)
//	fedavg-m        d_ik = β∇F_i(y; ξ) + (1−β)g;  y ← y − η d_ik;
//	                g ← (1/(SK)) Σ_{i∈S,k} d_ik;  x ← x − γ g                    (Cheng et al., Alg. 1/2)
//	fedavg-m-vr     d_ik = ∇F_i(y; ξ) + (1−β)(g − ∇F_i(x_prev; ξ)) (same ξ at both points),
//	                then as fedavg-m; x_prev is the global model of the previous round
//	                                                                      (Cheng et al., FedAvg-M-VR)
//	server-momentum Δ = x − mean_{i∈S} y_i;  v ← μv + Δ;  x ← x − η_g v            (FedAvgM, Hsu et al. 2019)
//	scaffold        y ← y − η(∇F_i(y; ξ) − c_i + c);  c_i⁺ = c_i − c + (x − y_i)/(Kη)  (option II);
//	                x ← x + η_g·mean_{i∈S}(y_i − x);  c ← c + (1/N) Σ_{i∈S}(c_i⁺ − c_i)
//	                                                   (Karimireddy et al. 2020, Alg. 1: the anchor)
//
// In fedavg-m and fedavg-m-vr the momentum g lives on the server, is broadcast with x and stays
// frozen during a round; β multiplies the fresh gradient (β = 1 is FedAvg; small β = heavy
// momentum). γ = ServerLR·η·K, so ServerLR = 1 with β = 1 is exactly FedAvg's model averaging
// (tested). g starts at g⁰ = mean over all N clients of a mini-batch gradient at x⁰ (the paper
// initialises g with a gradient estimate at x⁰; a full-batch one when Batch = 0).
//
// What was verified: the arXiv abstract and title (the paper's claims: momentum lets FedAvg
// converge under unbounded heterogeneity with a constant local step; variance-reduced extensions
// exist). No official code exists (Papers with Code lists none). The update equations above are
// from the project's research notes (/work/shared/research/seeds/learning-schemes.md §1), which
// mark them as recalled from the paper's algorithm boxes; the HTML of the paper's algorithm boxes
// could not be read in this session, so the exact momentum placement (server-held g, β on the
// fresh gradient, uploads g_i = mean_k d_ik) is the notes' reading, not re-checked line by line.
// SCAFFOLD option II and FedAvgM follow their papers' published equations.
//
// The models are GoMLX graphs: Objective abstracts a differentiable loss over a flat float64
// parameter vector, and NewMLP compiles one gradient function (graph.Gradient of the mean
// softmax cross-entropy of a one-hidden-layer tanh MLP or, with Hidden = 0, softmax
// regression) reused by every client, the weights passed in as host slices (the fast path).
// Quadratic is the least-squares objective the tests use to check every algorithm against a
// plain float64 re-statement of its equations.
package federated
