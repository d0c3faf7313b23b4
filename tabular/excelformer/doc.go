// Package excelformer holds the first pieces of ExcelFormer: the GLU feature tokenizer rule and
// semi-permeable multi-head attention (graph functions), the
// semi-permeable attention mask in mutual-information order and the FEAT-MIX / HID-MIX
// mixing rules with their label weights.
//
// Paper: Chen et al., "Can a Deep Learning Model be a Sure Bet for Tabular Prediction?"
// (ExcelFormer), KDD 2024, arXiv 2301.02819.
// Reference code: github.com/WhatAShot/ExcelFormer (bin/excel_former.py, lib/aug_utils.py),
// as summarised in shared/research/seeds/boosting-moe-family.md section 2.
//
// Status: the full model (blocks with the tanh-GLU FFN, head, scoped variables, init), the learner registration
// "excelformer" and the `tabular` benchmark are not built yet.
//
// Deviations: these rules were written from the seed notes and the paper; they have not yet
// been checked line by line against the official repository.
package excelformer
