// Package retrieval trains dense retrievers with hard negatives: STAR and ADORE (Zhan, Mao,
// Liu, Guo, Zhang, Ma, "Optimizing dense retrieval model training with hard negatives", SIGIR
// 2021), with random-negative and static BM25-negative training as the paper's baselines, an
// Okapi BM25 index and an exact inner-product index (faiss's IndexFlatIP) in Go, and the MS MARCO
// metrics (MRR@10, recall@k).
//
// Checked against the official code (jingtaozhan/DRhard):
//
//   - the tower (model.py RobertaDot): e = LayerNorm(Linear(h)), shared by queries and
//     documents, scores ⟨e_q, e_d⟩ without normalization; here h is the mean of learned token
//     embeddings (a bag-of-embeddings tower; RoBERTa's [CLS] state at laptop scale);
//   - STAR (model.py inbatch_train with other_doc_ids): every query's positive against the
//     batch's other positives (rel_pair_mask) and against every query's static hard negative
//     (hard_pair_mask), loss −log softmax([s⁺, s⁻])₀ summed and divided by the number of masked
//     pairs of both kinds; the masks exclude every relevant document, not just the sampled
//     positive; hard negatives are drawn from a warm-up model's top 200 and never refreshed;
//   - Rand-Neg (randneg_train): the same loss with the batch's random negatives only;
//   - ADORE (adore/train.py): the query tower trained against a fixed document index built by
//     the (frozen) document tower; each step searches the top K with the detached query
//     embeddings, appends the relevant documents when none was retrieved, and weights each
//     pair (i, j) with y_i ≠ y_j by |1/rank_i − 1/rank_j| (1/rank = 0 past metric_cut); the
//     pairwise log-loss over both orders is divided by 2·#positive pairs and averaged over the
//     batch.
//
// Deviations: the tower (above); AdamW instead of LAMB for STAR (LAMB's layer-wise trust ratio
// matters for a 12-layer RoBERTa, not for two tensors); the corpus and queries are built from a
// text by BuildCorpus (inverse-cloze queries) instead of MS MARCO; training adds inverse-cloze
// pairs (Lee et al., ACL 2019) because a few hundred real queries cannot train a tower from
// scratch.
package retrieval
