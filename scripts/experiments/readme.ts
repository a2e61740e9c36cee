/**
 * Assembles reports/README.md from the text below and the tables the experiment scripts wrote
 * under reports/tables/ (so a rerun of any script only needs this to refresh the README).
 *
 * Run: npx ts-node --transpile-only scripts/experiments/readme.ts
 */
import * as fs from 'fs';
import * as path from 'path';
import { REPORTS } from './common';

function table(name: string): string {
  const file = path.join(REPORTS, 'tables', `${name}.md`);
  if (!fs.existsSync(file)) return `_Not run yet: reports/tables/${name}.md is missing._\n`;
  // Demote the table's own heading so it sits under the section's.
  return fs.readFileSync(file, 'utf8').replace(/^### /m, '#### ');
}

function fig(file: string, alt: string): string {
  return fs.existsSync(path.join(REPORTS, file)) ? `![${alt}](${file})` : `_(figure ${file} not produced yet)_`;
}

const sections: string[] = [
  `# neurone — experiments of the original report, reproduced

Every table below was written by the script named in its "Command" line (run from the repository
root; add \`nice -n 10\` on a shared machine), with the seed given there. Raw per-run records are in
\`reports/raw/\`, figures in \`reports/figures/\`. Regenerate this page with
\`npx ts-node --transpile-only scripts/experiments/readme.ts\`. The charts are redrawn from the saved data, without
training, by \`npx ts-node --transpile-only scripts/experiments/figures.ts\`, which also renders each one to PNG in
\`reports/figures/png/\`. The experiments save the data of the charts that \`reports/raw/\` does not hold in
\`reports/raw/figure-data/\`; the runs behind today's figures did not, so that data (the confusion matrices, the 2-D latent
codes, the latent histogram, the zero-init, conv-variant and conv-autoencoder curves) was read back from the figures they
drew (counts exact, curves and points to the drawing's resolution; each file's \`source\` says so).

Conventions (docs/COURSE.md): losses are per sample and gradients are **summed** over the batch, so our
learning rates are PyTorch's divided by the batch size (and by the outputs per sample for BCE/MSE).
All runs: native backend, batch 32 unless a table says otherwise. The machine was a shared 2-core VM, so wall times are indicative only.`,

  `## The command

\`npx neurone train\` (or \`npm start\`, or \`npx ts-node --transpile-only lib/cli/main.ts train\` from a checkout) trains the
headline CNN on the embedded USPS digits with the headline configuration of item 4 (\`--recipe headline\`: 50 epochs at a
constant lr 1e-3, the weights averaged over the last 30, then a fresh network trained the same way on all of USPS_train is
tested once on USPS_test); \`--recipe quick\` is the first configuration (early stopping on a stratified 15 % validation
split, about a third of the time). It shows a progress bar per epoch on a terminal and one line per epoch, names the recipe
next to the test accuracy, and writes \`training.svg\` (loss and accuracy curves), \`confusion.svg\` (USPS_test) and
\`metrics.json\` under \`--out\` (default \`./neurone-out\`; an earlier run's files there are replaced only with \`--force\`).
One run on this machine (seed 0, \`--threads 1\`, shared): train 99.99 %, validation 97.99 %, **USPS_test 94.87 %**
(the 10-seed mean is 95.02 ± 0.13 %), 108 s. \`neurone --help\` lists the flags,
\`neurone presets\` the models.`,

  `## Item 4 — the headline CNN on USPS (10 seeds, two protocols)

\`Conv1D(3,1,32) → MaxPool1D(2,2) → Flatten → Linear(4064,100) → ReLU → Linear(100,10)\`, cross-entropy on
log-softmax, batch 32. The headline configuration trains for a fixed 50 epochs and averages the weights of the
last 30 (SWA); the earlier ones used up to 50 epochs with early stopping (patience 5, best weights restored).

${table('usps-headline-final-summary')}
**Result.** With this exact architecture and only optimiser / schedule / averaging / protocol choices, the honest
official-test mean is **95.02 ± 0.13 %** (10 seeds, protocol (ii) above; every seed between 94.87 and 95.22 %):
the 94.5 % target is met, and the mean reaches the 95 % aim by 0.02, far less than the spread between seeds. The configuration, chosen on a dev split inside
USPS_train without looking at USPS_test (next paragraph): SGD momentum 0.9, a constant lr of **1e-3** (≙ 0.032
in PyTorch; no plateau schedule), weight decay 2e-2 (≙ 6.25e-4), Xavier-normal Linear layers, batch 32, a
**fixed budget of 50 epochs**, and the network of record is the **uniform average of the weights at the end of
epochs 21 to 50** (stochastic weight averaging, \`--swa 30\`; \`WeightAverage\` in lib/averaging.ts, no EMA). There is
no early stopping: the 50 epochs and the averaging window were fixed by the dev-split search, so in protocol (ii)
the 15 % validation split is only scored (its accuracy is the "held-out %" column) and chooses nothing; a **fresh
network is then trained on all of USPS_train** for the same 50 epochs with the same averaging, and only that one
sees USPS_test. Its "train %" is on all of USPS_train. For protocol (i) "best epoch" is the last one, 50, and the
reported hold-out accuracy is that of the averaged weights after epoch 50: **97.69 ± 0.32 %** on its 33 % hold-out
(the original claimed 97.08 % in 31 ± 6 epochs), while the same models score 94.24 % on USPS_test: the hold-out
comes from the same writers as the training set, USPS_test does not.

| configuration (protocol (ii), 10 seeds, USPS_test %) | official test % | seeds ≥ 94.5 % |
| --- | --- | --- |
| first: lr 5e-4, weight decay 1e-2, plateau schedule, early stopping, no averaging, no retraining | 93.98 ± 0.39 | 0 of 10 |
| previous: + weight decay 2e-2, EMA of the weights (0.998 per batch), retraining for the early-stopped epoch count (\`--retrain --ema 0.998 --weight-decay 2e-2\`) | 94.42 ± 0.16 | 3 of 10 |
| headline: lr 1e-3 constant, weight decay 2e-2, 50 epochs, SWA over the last 30, retraining (\`--retrain --weight-decay 2e-2 --keep-last --epochs 50 --swa 30 --plateau 0 --lr 1e-3\`) | **95.02 ± 0.13** | 10 of 10 |

The previous configuration's protocol (i) gave 97.24 ± 0.40 % on the hold-out and 93.85 ± 0.41 % on USPS_test
(run with 2 native threads, 313 s; its tables are in git history under reports/tables/usps-headline-final-*.md).
The headline run used one native thread (the other core was busy) and took 497 s; run again from the final
commit of the session on a quiet machine (414 s), it reproduced every figure and table to the last digit.

How the configuration was chosen. \`--explore\` runs protocol (ii) entirely inside USPS_train: a fixed stratified
15 % "dev" split of USPS_train (seed 3000) stands in for USPS_test, the other 85 % for USPS_train (its own 15 %
validation split drives early stopping and the schedule), and USPS_test is not read. 5 seeds per line, mean ± std;
every line is \`npx ts-node --transpile-only scripts/experiments/usps-headline.ts --explore --seeds 5\` plus the flags
shown (output: reports/raw/usps-headline-explore.log). Dev accuracy is the criterion; validation columns are those
of the first stage (retraining does not change them). The second search (from the row marked "second search starts
here") added four flags to the script: \`--schedule cosine\` (per-epoch cosine decay of the learning rate over the
\`--epochs\` budget, down to \`--min-factor\` × lr), \`--keep-last\` (no early stopping: the model of the last epoch is kept
and \`--retrain\` runs the whole budget), and \`--swa K\` (with \`--keep-last\`: over the last K epochs the model of record
is the uniform average of the end-of-epoch weights, of the EMA weights if \`--ema\` is also given). For \`--keep-last\`
rows "best epoch" is the budget.

| flags added | dev % | validation % | validation loss | best epoch |
| --- | --- | --- | --- | --- |
| (none: the first configuration) | 96.45 ± 0.29 | 97.35 ± 0.16 | 0.103 | 10.2 ± 3.1 |
| \`--batch-size 64\` | 96.20 ± 0.45 | 97.18 ± 0.41 | 0.109 | 9.2 ± 4.5 |
| \`--ema 0.995\` | 96.49 ± 0.33 | 97.35 ± 0.38 | 0.103 | 8.2 ± 0.8 |
| \`--ema 0.998\` | 96.67 ± 0.21 | 97.18 ± 0.30 | 0.102 | 11.8 ± 3.0 |
| \`--ema 0.999\` | 96.56 ± 0.17 | 97.12 ± 0.23 | 0.100 | 14.4 ± 2.6 |
| \`--standardize\` (pixel mean/std of the training data) | 96.73 ± 0.28 | 97.44 ± 0.52 | 0.098 | 8.6 ± 5.1 |
| \`--retrain\` | 96.84 ± 0.29 | 97.35 ± 0.16 | 0.103 | 10.2 ± 3.1 |
| \`--retrain --standardize\` | 96.82 ± 0.52 | 97.44 ± 0.52 | 0.098 | 8.6 ± 5.1 |
| \`--retrain --ema 0.998\` | 96.95 ± 0.12 | 97.18 ± 0.30 | 0.102 | 11.8 ± 3.0 |
| \`--retrain --ema 0.998 --patience 8\` | 96.95 ± 0.12 | 97.18 ± 0.30 | 0.102 | 11.8 ± 3.0 |
| \`--retrain --ema 0.998 --standardize\` | 97.00 ± 0.20 | 97.33 ± 0.58 | 0.094 | 8.0 ± 2.3 |
| **\`--retrain --ema 0.998 --weight-decay 2e-2\`** (kept by the first search) | **97.17 ± 0.27** | 97.44 ± 0.26 | 0.096 | 24.4 ± 17.1 |
| \`--retrain --ema 0.998 --weight-decay 2e-2 --standardize\` | 97.07 ± 0.27 | 97.40 ± 0.42 | 0.092 | 8.6 ± 2.1 |
| \`--retrain --ema 0.998 --weight-decay 3e-2\` | stopped after 2 seeds (96.89, 97.26) | | | |
| \`--retrain --ema 0.998 --weight-decay 2e-2\` again (second search starts here; one native thread) | 97.17 ± 0.27 | 97.44 ± 0.26 | 0.096 | 24.4 ± 17.1 |
| \`--retrain --ema 0.998 --weight-decay 2e-2 --schedule cosine --epochs 30 --patience 100\` | 97.13 ± 0.21 | 97.33 ± 0.25 | 0.100 | 16.0 ± 8.3 |
| \`--retrain --ema 0.998 --weight-decay 2e-2 --schedule cosine --epochs 30 --keep-last\` | 97.04 ± 0.33 | 97.46 ± 0.14 | 0.104 | 30.0 ± 0.0 |
| \`--retrain --ema 0.998 --weight-decay 2e-2 --lr 1e-3\` | 97.09 ± 0.16 | 97.25 ± 0.27 | 0.093 | 12.8 ± 9.2 |
| \`--retrain --ema 0.998 --weight-decay 2e-2 --lr 2.5e-4\` | 96.89 ± 0.26 | 97.14 ± 0.33 | 0.107 | 17.2 ± 6.1 |
| \`--retrain --ema 0.998 --weight-decay 2e-2 --linear-init heNormal\` | 97.15 ± 0.18 | 97.20 ± 0.34 | 0.098 | 26.4 ± 21.6 |
| \`--retrain --ema 0.998 --weight-decay 2e-2 --batch-size 16\` | 97.07 ± 0.21 | 97.46 ± 0.35 | 0.093 | 13.8 ± 4.1 |
| \`--retrain --ema 0.999 --weight-decay 2e-2\` | 97.06 ± 0.18 | 97.44 ± 0.33 | 0.094 | 24.2 ± 15.4 |
| \`--retrain --ema 0.998 --weight-decay 1.5e-2\` | 96.95 ± 0.10 | 97.25 ± 0.25 | 0.099 | 14.6 ± 6.3 |
| \`--retrain --ema 0.998 --weight-decay 3e-2 --patience 8\` | 97.07 ± 0.17 | 97.38 ± 0.33 | 0.094 | 28.2 ± 20.1 |
| \`--retrain --ema 0.998 --weight-decay 2e-2 --keep-last --schedule cosine --epochs 30 --min-factor 0.2 --swa 10\` | 97.09 ± 0.22 | 97.55 ± 0.12 | 0.104 | 30.0 ± 0.0 |
| \`--retrain --weight-decay 2e-2 --keep-last --epochs 40 --swa 20 --plateau 0\` | 97.22 ± 0.24 | 97.59 ± 0.18 | 0.098 | 40.0 ± 0.0 |
| \`--retrain --weight-decay 2e-2 --keep-last --epochs 50 --swa 30 --plateau 0 --lr 1e-3\` | 97.42 ± 0.30 | 97.66 ± 0.29 | 0.086 | 50.0 ± 0.0 |
| \`--retrain --ema 0.998 --weight-decay 2e-2 --optimizer adam --lr 1e-3\` | stopped after 2 seeds (97.35, 97.35; 379 s for one seed) | | | |
| \`--retrain --ema 0.998 --weight-decay 2e-2 --seeds 10\` (the kept configuration, seeds 0–9) | 97.11 ± 0.19 | 97.77 ± 0.51 | 0.080 | 20.7 ± 12.2 |
| **\`--retrain --weight-decay 2e-2 --keep-last --epochs 50 --swa 30 --plateau 0 --lr 1e-3 --seeds 10\`** (chosen) | **97.29 ± 0.25** | 97.99 ± 0.49 | 0.069 | 50.0 ± 0.0 |

Retraining on the full training set (+0.4) and weight averaging (+0.1 to +0.2) are the gains that hold up; the
rest is within the ±0.3 spread between seeds. The dev split gains (+0.7 over the first configuration) shrank to
+0.44 on USPS_test, whose writers differ from USPS_train's. \`neurone train\` runs this configuration; the first one
(lr 5e-4, weight decay 1e-2, no averaging, no retraining) is \`neurone train --recipe quick\`.

In the second search (one native thread, one run at a time) the cosine schedule, lr 1e-3 or 2.5e-4 with the
plateau schedule, He-normal Linear layers, batch 16, EMA decay 0.999, weight decay 1.5e-2 or 3e-2 (patience 8) all
scored between 96.89 and 97.15 % on dev, against 97.17 % for the kept configuration: no difference beyond the
±0.2–0.3 spread between seeds. Stochastic weight averaging with a constant learning rate and a fixed budget was
the only change that moved the dev split: 97.22 % (lr 5e-4, 40 epochs, last 20 averaged) and 97.42 ± 0.30 %
(lr 1e-3, 50 epochs, last 30 averaged). Since that second number was the best of 12 complete five-seed screens, both it and
the kept configuration were rerun on seeds 0–9 before anything touched USPS_test: 97.29 ± 0.25 against
97.11 ± 0.19 %, seed by seed +0.18 on average (7 seeds better, 2 worse, 1 equal; paired t ≈ 2.2), and on the five
seeds 5–9 that played no part in choosing it, better or equal on every seed (+0.15 on average). Its validation loss
was also lower (0.069 against 0.080). That was judged a real, if small, improvement, and it was then run once on
USPS_test (table at the top of this item). The gain there (+0.60 over the previous configuration) is larger than
on dev, where accuracies near 97.3 % leave little room (one dev digit is 0.09 %). Caveat on exact reproduction: the
native addon was rebuilt by other work several times during this search (changes to native/gemm.cc), and some
re-runs of the same flags differ from earlier ones by one or two dev digits on a few seeds (e.g. seeds 0–2 of the
kept configuration in its 5- and 10-seed runs).

The first configuration (SGD momentum 0.9, lr 5e-4, weight decay 1e-2, plateau schedule, Xavier-normal Linear layers,
no averaging, no retraining), same seeds and splits:

${table('usps-headline-summary')}
What was tried before fixing that first configuration (one or two seeds each, stratified 15 % validation split,
official test, early stopping on validation loss; numbers from exploratory runs that are not scripted, and, unlike
the search above, scored on USPS_test itself):
Adam 1e-3 93.5 / 93.6 %; Adam 3e-4 93.7 / 93.4 %; Adam 1e-4 93.2 %; Adam + weight decay 1e-2 93.0 %, 1e-1 92.7 %;
Adam + reduce-on-plateau 93.5 %; Adam with standardised inputs 93.6 %; Adam with He-normal conv 93.1 %;
Adam with Xavier-normal Linear layers 94.4 %; plain SGD 1e-3 93.2 %; SGD momentum 0.9 lr 1e-3 93.1 / 93.9 %;
SGD momentum 0.9 lr 5e-4 + plateau 94.4 %; the same + weight decay 1e-2 94.7 / 93.8 / 94.4 %; + Xavier Linear
94.8 / 94.0 % (the first configuration); weight decay 5e-2 94.4 %, 1e-1 94.2 %; monitoring validation accuracy
(patience 8) 94.0 / 94.0 / 93.6 %. The spread between seeds (±0.4) is as large as most of these differences.
That first configuration (SGD momentum 0.9, lr 5e-4 ≙ 0.016 in PyTorch, weight decay 1e-2 ≙ 3e-4, lr × 0.3 after
2 epochs without validation progress, Xavier-normal Linear layers) is \`neurone train --recipe quick\`.

What does clear the target with the same network and optimiser is more data of the right kind: adding copies of
each training digit shifted by one pixel (protocol (iii) below) gives **96.18 ± 0.15 %** on USPS_test (5 seeds).
It changes the training data, not the optimiser, schedule or initialisation, so it is reported apart and is not
the headline number:

${table('usps-headline-augmented')}
${table('usps-headline-final-seeds')}
${fig('figures/usps-headline-final-curves.svg', 'USPS held-out / validation accuracy and loss per epoch, 10 seeds, both protocols, final configuration')}

Official-test confusion matrix of the median seed of protocol (ii), final configuration:

${fig('figures/usps-headline-final-confusion.svg', 'USPS_test confusion matrix')}

Per seed, first configuration:

${table('usps-headline-seeds')}
${fig('figures/usps-headline-curves.svg', 'USPS held-out / validation accuracy and loss per epoch, 10 seeds, both protocols, first configuration')}

### Zero initialisation (fig. 4)

${table('usps-zero-init')}
${fig('figures/usps-zero-init.svg', 'zero initialisation: flat loss, accuracy stuck at the majority class')}`,

  `## Item 1 — initialisation of \`Linear(784,10) → Sigmoid\` on Fashion-MNIST (fig. 1)

${table('fashion-init')}
**Reading.** Zero and the four scaled initialisations (Xavier/He, normal/uniform) end at the same place (~84 %):
a single linear layer has no symmetry to break. \`normal\` (σ = 1) starts with saturated sigmoids and is still
behind after 15 epochs; \`uniform\` U(0, 1) (all weights positive, pre-activations ≈ +100) and \`ones\` saturate every
output at 1: the sigmoid's derivative underflows and BCE's gradient vanishes; \`ones\` never moves (loss 900 = 9 wrong
outputs × 100, the clipped log) and \`uniform\` only starts to recover after 9 epochs (12.5 % at 15). The weight images (one row per initialisation, in table order; blue negative, red positive)
show the class templates the scaled initialisations learn and the noise or constant the others keep.

${fig('figures/fashion-init-curves.svg', 'loss and accuracy per epoch for the 8 initialisations')}

${fig('figures/fashion-init-weights.png', 'weights as ten 28×28 images per initialisation')}

${fig('figures/fashion-init-confusion.svg', 'confusion matrix of the best initialisation')}`,

  `## Item 2 — learning rate (fig. 2)

${table('fashion-lr')}
**Reading.** Too small (≤ 1e-5, i.e. ≤ 3e-3 in PyTorch's convention) and 15 epochs are far from enough; 1e-3 (0.32 in
PyTorch's) is the best of the range; 1e-2 and 1e-1 still classify but oscillate (the loss at 1e-1 is dominated by
saturated, confidently wrong outputs); at 1 every output saturates in the first steps and the network is stuck at
10 % (the clipped BCE, ≈ 100 per sample).

${fig('figures/fashion-lr-curves.svg', 'loss and accuracy per epoch for each learning rate')}`,

  `## Item 3 — activation functions on a small MLP (fig. 3)

${table('fashion-activations')}
**Reading.** Without an activation the MLP is a linear model (82.4 %); every non-linearity adds 2.5–4 points. On this
short, small run the ranking between them (SoftPlus ≥ LeakyReLU ≈ ReLU ≥ TanH ≈ Sigmoid) is within about one
point and the test curves are noisy (one seed): the table says "a non-linearity matters", not which one is best.

${fig('figures/fashion-activations-curves.svg', 'loss and accuracy per epoch for each activation')}`,

  `## Item 6 — autoencoders on Fashion-MNIST (figs. 9–13)

${table('fashion-autoencoders')}
**Reading.** The 784→256→64 autoencoder reconstructs best; the deeper 784→512→256→128→64 trains more slowly and on
this shortened schedule ends between the two. The one-layer 784→64 encoder pushes most of its TanH codes to ±1
(58 % of them beyond |z| > 0.95: a nearly binary code), the deeper ones use the range more smoothly (19–25 %),
which the histogram shows.

Loss curves:

${fig('figures/ae-curves.svg', 'autoencoder loss curves')}

Reconstructions (first row: one test image per class; then one row per architecture, in table order):

${fig('figures/ae-reconstructions.png', 'reconstructions side by side')}

A fixed test image (left) reconstructed after each epoch, one row per architecture:

${fig('figures/ae-fixed-image-epochs.png', 'reconstruction of a fixed image across epochs')}

Latent activations: distribution of the 64 TanH codes over the test set, and the codes of the ten images
above drawn as 8×8 tiles (blue negative, red positive; one row per architecture):

${fig('figures/ae-latent-histogram.svg', 'latent activation histogram')}

${fig('figures/ae-latent-codes.png', 'latent codes as 8x8 tiles')}`,

  `## Item 7 — latent space, denoising, convolutional autoencoder

${table('fashion-latent-space')}
**Reading.** The 64-D codes cluster a little better than raw pixels under k-means (58.9 vs 55.1 % purity) but a
linear classifier does slightly worse on them (80.6 vs 82.3 %): the autoencoder keeps what reconstructs the
image, not what separates the classes. Two dimensions (a linear code layer: a 2-unit TanH code saturated every
image into one corner of the square in a first attempt) still sort the classes into visible regions
(trousers, bags, footwear apart; tops overlapping), at 51 % linear-probe accuracy.

${fig('figures/latent-2d.svg', '2-D latent codes coloured by class')}

${table('fashion-denoising')}
**Reading.** Trained at σ = 0.3, the denoising autoencoder's error is almost flat in the noise level (0.018–0.024):
from σ = 0.2 on it beats both the noisy input and the plain autoencoder (at σ = 0.5: 0.024 vs 0.060 and 0.118),
at the price of a blurrier reconstruction of clean inputs (0.022 vs 0.014).

${fig('figures/denoise-curve.svg', 'reconstruction error vs noise level')}

Noisy / denoised / clean (rows), σ = 0.3:

${fig('figures/denoise-triples.png', 'noisy, denoised, clean')}

${table('fashion-conv-ae')}
**Reading.** Honest negative result: this convolutional autoencoder (2.9 k parameters, 49-D code) reconstructs worse
than the linear 784→64 one (BCE 289.5 vs 251.2; MSE 0.043 vs 0.025) and draws horizontal stripes: Conv1D runs along
the row-major pixel sequence, so its kernels see only horizontal neighbours and the vertical structure has to pass
through the 49-number code. A 2-D convolution (not in the library then) or many more channels would be needed; with
the 2-D layers it works (§3.3.3 below).

Rows: originals, linear 784→64, convolutional:

${fig('figures/conv-ae-reconstructions.png', 'linear vs convolutional reconstructions')}

${fig('figures/conv-ae-curves.svg', 'test loss per epoch, conv vs linear')}`,

  `## Accuracy with 2-D nets (issue 16, experiment 1)

The headline of item 4 is a Conv1D over the 256 pixels of a row-major USPS digit; with \`Conv2D\` and
\`MaxPool2D\` the digits are read as 16×16 images, \`data.loadUSPS()\` → \`(n, 16, 16, 1)\`. One small textbook network,
fixed before the first run (two 3×3 convolutions with 32 and 64 channels, each followed by ReLU and a 2× max-pool, a
128-unit hidden layer with dropout 0.3; Adam lr 1e-3, batch 32, no weight decay, no augmentation), is trained on the whole
official training set and the official test set is evaluated once, after the last epoch: no validation split, no early
stopping, no checkpoint chosen, so the test set chooses nothing (protocol (ii) of item 4, without its retraining step because
nothing is selected on a split). The only number chosen was the epoch budget for USPS, read off the dev-split curve
below (a stratified 15 % of USPS_train; USPS_test not read): dev accuracy is flat from about epoch 19 on
(98.66 ± 0.41 % at 20, 98.75 ± 0.41 % at 30, 3 seeds), so 30 epochs.

${table('cnn2d-usps-summary')}
**Reading (USPS).** **96.42 ± 0.31 %** on USPS_test over 10 seeds (every seed between 95.91 and 96.81 %): the
issue's target of **≥ 97.5 % is not met**, short by 1.08 points on the mean and by 0.69 on the best seed; no seed
reaches it. Against the Conv1D headline of item 4 (95.02 ± 0.13 %, which needed weight decay, SWA over 30 epochs and
retraining) the plain 2-D net is **1.40 points better** (3.58 % errors instead of 4.98 %, 28 % fewer), in 28 s per
30-epoch run at one thread on the shared machine. As in item 4, the dev split (same writers as the training data) is
far more optimistic than USPS_test: 98.75 % against 96.42 %. Not tried yet, each to be chosen on the dev split only:
shift augmentation (reported apart, as item 4's 1-pixel shifts), BatchNorm2D, weight averaging or a decaying learning
rate, a wider network.

${table('cnn2d-usps-seeds')}
${table('cnn2d-usps-explore')}
The same network on the 28×28 sets (\`Linear(3136, 128)\` after the convolutions), with fewer seeds and a shorter
budget fixed a priori by the time available (8 epochs, nothing looked at first), against the issue's targets
(MNIST ≥ 99.3 %, Fashion-MNIST ≥ 92 %):

${table('cnn2d-mnist-summary')}
${table('cnn2d-fashion-summary')}
**Reading (MNIST, Fashion-MNIST).** Two seeds each, not the ten the issue asks for. MNIST: **99.33 ± 0.04 %**
(99.35 and 99.30 %), at the ≥ 99.3 % target with 0.03 points to spare, which is less than two seeds can resolve:
**met on these two seeds, not established**. Fashion-MNIST: **92.15 ± 0.06 %** (92.11 and 92.19 %), above the ≥ 92 %
target by 0.15 points on both seeds, **met on two seeds**. Wall times: the two scripts ran at the same time on the
shared 2-core machine, each getting about 47 % of a core, so a run alone at one thread would take roughly half the
326–337 s shown (about 160 s of CPU time per run, read from \`ps\` during the runs). Per seed: MNIST seed 0 train 99.79 %, test 99.35 %; seed 1 99.86 %, 99.30 %; Fashion-MNIST seed 0
95.86 %, 92.11 %; seed 1 95.99 %, 92.19 % (all in \`reports/raw/cnn2d-mnist.json\` and \`cnn2d-fashion.json\`).`,

  `## §3.3.3 — the convolutional autoencoder, with 2-D layers (issue 16, experiment 2)

The original's convolutional autoencoder "did not work" and item 7c's Conv1D one drew stripes. With \`Conv2D\`,
\`MaxPool2D\`, \`ConvTranspose2D\`, \`Upsample2D\` and \`Reshape\` it is the usual small network, trained and scored
exactly as the dense autoencoders of item 6, which are retrained here beside it (same data, epochs, optimiser, loss,
initialisation and seeds) on MNIST and on Fashion-MNIST, at item 6's code size of 64:

- **conv (ConvTranspose2D decoder)**: \`Conv2D(3,1,16,pad 1) → ReLU → MaxPool2D(2) → Conv2D(3,16,16,pad 1) → ReLU →
  MaxPool2D(2) → Flatten → Linear(784,64) → TanH\` (the code), then \`Linear(64,784) → ReLU → Reshape([7,7,16]) →
  ConvTranspose2D(4,16,16, stride 2, pad 1) → ReLU → ConvTranspose2D(4,16,1, stride 2, pad 1) → Sigmoid\`;
- **conv (Upsample2D + Conv2D decoder)**: the same encoder, each transposed convolution replaced by
  \`Upsample2D(2) → Conv2D(3,·,·,pad 1)\`.

Both have about as many parameters (108 k, 106 k) as the dense 784→64 (101 k) and a quarter of the dense
784→256→64 (436 k): the first comparison is at equal parameters and code, the second at equal code.

${table('conv-autoencoders')}
Three seeds per model because one seed of all eight models takes about 6.5 minutes of one core here (the whole table
20 minutes) on a 2-core machine shared with other work; the ± are the spread of three runs, not a confidence
interval. Native backend at one thread (\`EXPERIMENT_THREADS=1\`, i.e. \`setThreads(1)\`), so that the run and
the other work did not oversubscribe the two cores; wall times varied by up to 1.7× between seeds for that
reason. Per seed (test BCE): MNIST conv (ConvTranspose2D) 206.2, 206.3, 206.4; Fashion-MNIST conv (ConvTranspose2D)
216.9, **385.3**, 215.6; the other models' seeds are within the ± shown (reports/raw/conv-autoencoders.json). Seed 0
of the dense autoencoders on Fashion-MNIST lands where item 6's did (233.8 and 219.6 here, 234.0 and 219.6 there).

**Reading.**
- **At equal parameters** the convolutional autoencoder wins by far: with the upsampling decoder, test BCE 61.1
  against 109.1 on MNIST (MSE per pixel 0.0055 against 0.0245, 4.4× lower) and 216.3 against 234.4 on Fashion-MNIST
  (0.0108 against 0.0176).
- **At equal code size** it also beats the dense 784→256→64, which has 4× its parameters: 61.1 against 69.5 on MNIST
  (MSE 0.0055 against 0.0089), and narrowly 216.3 ± 0.9 against 219.5 ± 0.3 on Fashion-MNIST (MSE 0.0108 against
  0.0119), a gap larger than the spread of either over three seeds. The original's hope ("much simpler with a 2-D
  convolution") holds: the 2-D layers turn its failure into the best autoencoder of the report.
- **Denoising** (the autoencoders were trained on clean images only): on MNIST the convolutional one removes most of
  the noise (Gaussian σ = 0.3: MSE 0.027 against the clean image, the noisy input itself being 0.047), while both
  dense ones return images *further* from the clean one than the noisy input was (0.056, 0.062): they map
  the speckled background to strokes (grid below). Masking noise: 0.014 against 0.023 and 0.032 (input 0.028). On
  Fashion-MNIST it is the other way round for Gaussian noise: the conv autoencoder is the worst of the three (0.042
  against 0.032 and 0.035; input 0.053) and draws dark blotches into noisy garments and shoes, while it is still the
  best on masked inputs (0.025 against 0.031 and 0.033; input 0.052).
- **Where it fails.** (1) With the transposed-convolution decoder and the TanH code, 4 of the 6 runs collapsed: all
  three on MNIST (the mean digit for every input, BCE 206) and seed 1 on Fashion-MNIST (a constant image, BCE 385); the
  collapsed networks' outputs do not depend on the input at all (the same MSE for clean, noisy and masked inputs). A
  probe outside the script (MNIST, 640 images, seed 0) shows how: within the first epoch the pre-activations of all 64
  TanH code units reach about ±8.5 for every image (spread across images about 0.8), so every unit outputs the same
  ±1 whatever the image, tanh′ ≈ 0 and no gradient reaches the encoder again; the decoder then learns the best
  constant answer. It is not a layer bug as far as we can check: both backends give the same numbers to the last
  printed digit; finite-difference checks of \`ConvTranspose2D\` (kernels 2, 3 and 4, stride 2, padding,
  outputPadding) and of a whole conv-encoder → ConvTranspose2D-decoder \`Sequential\` with smooth activations pass (with ReLU and
  max-pooling a few entries fail on both backends alike, where the finite difference straddles a kink);
  in the same probe, 2×2 or 3×3 transposed kernels, a final \`Conv2D\` after them and transposed-convolution weights
  doubled at initialisation all collapsed the same way. With a linear code the same network trains in every seed
  (table below). A likely reason, measured but not proven: at initialisation the transposed-convolution
  decoder's output varies 3–5× less from image to image than the upsampling decoder's (standard deviation across 500
  MNIST images of the pre-sigmoid output 0.003–0.005 against 0.015–0.018, seeds 0–2, for outputs of similar size), so
  the early error is nearly the same for every image and its gradient pushes every image's code the same way, into
  saturation (doubling the transposed weights scales both parts alike, which fits its not helping). The two healthy
  transposed-convolution runs on Fashion-MNIST (216.9, 215.6) match the upsampling decoder (216.3). (2) On Fashion-MNIST the conv reconstructions are smoother than the
  dense 784→256→64's: prints and stripes (the "Lee" shirt, sandal straps) are lost, the BCE gain is small, and
  Gaussian noise is handled worse (above). (3) It costs more: 3–4× the wall time of the dense 784→256→64 per run
  on one core (about 100 s against 30 s for 15 epochs of 10,000 images), most of it in the 3×3 convolutions at 28×28.

${table('conv-autoencoders-linear-code')}
**Reading.** Without the TanH the transposed-convolution decoder trains in all three seeds on both datasets and gives
the lowest errors of the section (MNIST 60.4, Fashion-MNIST 214.3). The dense 784→256→64 also improves without the
TanH (MNIST 62.9 instead of 69.5, Fashion-MNIST 217.2 instead of 219.5), so with linear codes the convolutional
network's lead at equal code is 2.5 BCE on MNIST and 2.9 on Fashion-MNIST (MSE 0.0054 against 0.0062, 0.0100
against 0.0110), still with a quarter of the parameters. An unbounded code has a price: the dense network's error on
Gaussian-noised MNIST explodes (0.32 ± 0.13, against 0.047 for the noisy input itself), the convolutional one's
grows less (0.039 ± 0.013, from 0.026 to 0.052 by seed). This second table ran after the native addon had been
rebuilt by other work; its MNIST conv runs repeat, to the printed digit, a first attempt made on the earlier build.

Reconstructions and denoising (seed 0; one test image per class; rows: original, the four autoencoders, the noisy
input and each autoencoder's output for it, the masked input and each output for it):

${fig('figures/png/conv-ae-2d-mnist-grid.png', 'MNIST: originals, reconstructions, noisy and masked inputs and their reconstructions')}

${fig('figures/png/conv-ae-2d-fashion-grid.png', 'Fashion-MNIST: originals, reconstructions, noisy and masked inputs and their reconstructions')}

Test BCE per epoch (on the first 2,000 test images, only measured), mean ± std over the three seeds; the wide green
band is the Fashion-MNIST seed that collapsed:

${fig('figures/conv-ae-2d-curves.svg', 'test BCE per epoch, dense and convolutional autoencoders, MNIST and Fashion-MNIST')}`,

  `## §3.4 — style transfer (the original's empty section)

The original report has a heading "style transfer" and nothing under it. \`styleTransfer\` (lib/style.ts) now does it,
after Gatys et al. (2016): starting from the content image, Adam (lr 0.02) moves the pixels so that the image's
features match the content image's and the Gram matrices of its features (which channels fire together, wherever)
match the style image's; the pixels are clamped to [0, 1] after each step. The gradient with respect to the pixels
is neurone's own: each module's \`backwardDelta\`, from the deepest layer read down to the input (checked against
finite differences in test/style.test.ts). Every loss term is divided by its target's norm (‖G − A‖² / ‖A‖²,
‖F − P‖² / ‖P‖²), so layers count alike whatever their activations' scale. From the command line:
\`npx neurone style --content cat.png --style brick.png --out out.png\` (\`--size\`, \`--steps\`, \`--style-weight\`,
\`--features random|trained\`; \`neurone style --help\`).

Pretrained VGG weights cannot be downloaded here, so the features come from one network that neurone makes itself,
in two versions: Conv2D 3×3 → ReLU → AvgPool2D(2) → Conv2D 3×3 → ReLU → AvgPool2D(2) → Conv2D 5×5 → ReLU →
AvgPool2D(2) → Conv2D 5×5 → ReLU (32, 64, 64, 64 channels; receptive fields 3, 8, 26 and 62 pixels), style read
after every ReLU, content after the third.

- **random** (\`randomStyleFeatures\`): He-normal random weights, the input centred on 0.5 through the first bias.
  Random filters are known to carry texture statistics (Ustyuzhaninov et al., ICLR 2017).
- **trained** (\`trainStyleFeatures\`): the same network from the same seed, trained for 500 Adam steps (lr 2e-3,
  16 patches of 32 px per step) on the two images of the pair to tell by how many quarter turns a patch was rotated
  (self-supervised, after Gidaris et al., ICLR 2018: no labels and no outside data). Its cross-entropy falls from
  ln 4 = 1.386 (chance) to 0.49–1.19 over the last 50 steps, depending on the pair; 5–16 s per pair on this shared machine.

Each result is scored in feature spaces its optimisation never used: random features of another seed and width
(48 channels), a network of another architecture (three 7×7 random convolutions with max pooling), and each kind's
own features (the random result in the pair's trained features and the trained result in the random ones).

${table('style-transfer')}
**Reading.** Random features work better, on every pair and under both independent judges (median style distance
0.029 vs 0.72 and 0.10 vs 1.02; the content image itself starts at 11.1 and 1.6). They are also cheaper: no
training (4.3 vs 12.4 s per image in the median here). The trained results stay closer to the content (content distance 0.31 vs 0.58), but that is not a
trade-off the style weight can buy back: on chelsea × brick, raising it from 10 to 100 and 1000 lowers the trained
network's own style loss and leaves the judges' distance where it was (0.13 → 0.13 → 0.16, against 0.017 for the
random features). A network trained only to tell rotations has few features that respond to colour and fine
texture, so matching its Gram matrices leaves the content image's colours in place (the figure below: the trained
results stay orange and green where the random ones lose their colour towards the grey styles,
keeping a green tint). Even in the trained network's own
space the random results are closer to the style than the trained results in the median (0.72 vs 2.50), because the trained
optimisation fails outright on some pairs: on the deep-field image, mostly black, the trained network's style
activations are nearly zero, so the normalised loss (divided by ‖A‖²) explodes (10⁷ on chelsea) and dominates the
gradient. The random network's zero-mean filters always respond. The verdict does not rest on that image: on
the six brick and gravel pairs the first judge puts the random results at 0.017–0.069 and the trained ones at
0.13–59. What neither achieves at 128 px is a VGG-style
transfer: the bricks and pebbles come out as local grey grain and edges rather than as bricks and pebbles (the
deepest layer sees 62 pixels), and the random features add coloured fringes along the edges.

Rows: content images; columns: the style images (top row), then the result for each (random features, default
settings):

${fig('figures/style-grid-random.png', 'content x style grid, random features')}

The same grid with trained features:

${fig('figures/style-grid-trained.png', 'content x style grid, trained features')}

Side by side, for each style: random (left) and trained (right) features:

${fig('figures/style-random-vs-trained.png', 'random vs trained features, side by side')}

Images: the scikit-image 0.19.3 sample data (\`../shared/data/images/SOURCE.md\`): chelsea (CC0, Stefan van der
Walt), astronaut Eileen Collins (NASA, public domain), coffee (CC0, Rachel Michetti), brick (CC0Textures Bricks25,
CC0), gravel (CC0Textures Gravel04, CC0), Hubble eXtreme Deep Field (NASA, public domain).`,

  `## Item 5 — batch size, kernel size, feature maps, 2- and 4-convolution networks (figs. 5–8)

${table('usps-conv-variants')}
**Reading** (2 seeds per setting, so differences under ~0.5 point are noise). Smaller batches help at a fixed
summed-gradient learning rate (batch 8: 94.27 %; 512: 92.87 %), i.e. more, smaller steps. Kernel size (3–15) and
the number of feature maps (4–64) barely matter for this one-conv network: the Linear(·,100) layer holds almost all
the parameters, and 4 maps (52 k parameters) do as well as 64 (814 k). Depth does matter: the 2-convolution network
(ReLU after each conv, 16 and 32 maps, half the parameters) reaches **95.02 %** on USPS_test, the 4-convolution one
94.62 %, both above the headline network's 93.95 %. (The legend "feature n" of the third panel reads "n feature maps".)

${fig('figures/usps-conv-variants.svg', 'validation accuracy per epoch for each setting')}`,
];

fs.writeFileSync(path.join(REPORTS, 'README.md'), `${sections.join('\n\n')}\n`);
process.stdout.write(`wrote ${path.join(REPORTS, 'README.md')}\n`);
