"""The fixed text of docs/results/cyclegan.md (cyclegan_doc.py fills in the tables)."""

INTRO = """# CycleGAN: both directions, default settings

Regenerate: `python benchmarks/cyclegan_quality.py --doc` (from
`benchmarks/results/cyclegan_quality.json`; the commands that trained each
row are at the end).

Every run is `genlab train cyclegan --data TASK --steps {steps} --seed S` and
nothing else: the family's defaults (batch {batch}; for these 28 px images the
`small` preset: {config}; the learning rate held for the first half of the
run, then decayed linearly to 0). One thread, on the shared 2-core CPU
machine ({wall} minutes of training wall time per run, while other
developers' test suites ran nice'd on the other core).

**Tasks.** Both are built from Fashion-MNIST, and both train unpaired: domain
A comes from the first half of the train split, domain B from the second
half, each shuffled on its own. The test split keeps the pairs, so each
translation of the 10,000 test images is scored against its true
counterpart (`genlab eval RUN` prints the same scores).

- `edges2fashion`: A = edge maps computed in genlab (Canny-like: Gaussian
  sigma 1, Sobel, non-maximum suppression, threshold at 15% of each image's
  strongest edge; white lines on black, 14% of the pixels), B = the items.
- `fashion2negative`: A = the items, B = their negatives (255 - x). Not about
  edges: a check that the defaults are not tuned to one task.

**Scores** (`genlab.models.cyclegan.paired`, pixels in [0, 1]):

- MAE (lower is better) and SSIM (Wang et al. 2004, 11x11 Gaussian window,
  sigma 1.5; higher is better) against the true counterpart;
- accuracy: the shipped Fashion-MNIST classifier's accuracy on the
  translations against the test labels (negatives are inverted before they
  are classified);
- FID against the true targets, in the same classifier's feature space (not
  Inception's; comparable only within this page);
- for edge maps: precision, recall and F1 of the edge pixels (value >= 0.5)
  with a 1-pixel tolerance and one-to-one matching (BSDS style: a predicted
  pixel within one pixel, 8-neighbourhood, of a true edge pixel matched to no
  other; counts summed over the test set);
- the collapse monitor's verdict on the final generator (genlab's
  `TranslationMonitor` on 512 test images: a warning when the translations
  vary less than 0.3 times as much as real images of the target domain, or
  when more than half of them are darker or brighter than 99% of real ones).

Every score is also given for the untranslated inputs: a translation has to
beat doing nothing. For calibration of the edge F1: random pixels switched on
at the true edge density (14%) score about 0.41 against these edge maps.
"""

DIAGNOSIS = """Each row changes one setting of the defaults back to the paper's
(`--set KEY=VALUE`), same steps and seed. At the paper's cycle weight of 10
the small networks no longer collapse in 3,000 steps, but both directions
translate worse, while the A -> B -> A cycle error falls to a third of the
default's (`cycle_a_l1` in benchmarks/results/cyclegan_quality.json): the
round trip is kept by something other than faithful translations, the
private code described under "Reading the numbers"."""

READING = """## Reading the numbers

- **Why items -> edges collapsed.** Real edge maps are exactly black or white;
  a discriminator tells any grey output from them at once, and the nearest
  output it accepts is black. With the paper's cycle weight of 10, the
  generators also settle on a private code: G_BA draws dots inside the items
  that tell G_AB how bright each item was, and G_AB answers a dot-free map
  (every real edge map) with a dark item. Both cycle losses are then small
  while neither translation is faithful. With the cycle weight at 0.5 the
  discriminators, not the cycle, dominate: dots and dark items are rejected,
  G_BA draws edges where the true edges are, and the cycle B -> A -> B then
  teaches G_AB to fill real edge maps with items of the right brightness.
- **Where the rest came from.** One downsampling instead of two keeps a
  14 x 14 grid at 28 px (thin lines stay in place); resize-convolution
  upsampling removes the checkerboard texture that stride-2 transposed
  convolutions stamp on the items; 16 channels instead of 64 give about
  four times the steps in the same minutes, which mattered more than width
  (32 channels did worse in the same time in scratch runs); the learning
  rate 4e-4 did better than 2e-4 at this budget.
- **The second task.** Items <-> negatives is an exact, pixel-wise
  inversion, yet no seed learns it exactly: the translations keep the shape
  and the class, but the grey levels inside an item drift (SSIM and
  accuracy differ widely between seeds in the tables above). The low cycle
  weight that cures the edge collapse constrains the inversion only
  loosely; a longer run or a higher cycle weight (`--lambda-cycle`) is what
  to try on tasks where pixels map one-to-one.
- **What is not recoverable.** An edge map does not say how bright an item
  is (the threshold is relative to each image's strongest edge) nor what
  texture it has; the translations guess both from the shape.
"""
