"""Screen a VAE/CVAE setting: train it with the CLI for E epochs on Fashion-MNIST, then score
samples from the prior and from a 10-component Gaussian mixture fitted on the training
codes (one per class for the cvae), 10,000 each, with genlab's default extractor against
the training split; NLL of 300 test images with the binned estimator of vae_epochs.py
(vae only); for the cvae, how often decoding a real image's code with the *next* class
yields that class (swap_acc: does the decoder obey its label?).

    python benchmarks/vae_screen.py NAME vae|cvae EPOCHS [--genlab-option value ...]

Rows are appended to benchmarks/results/vae_defaults_screen.jsonl (the issue-15 screen
that chose the defaults; docs/results/vae-families.md has its table).
"""
import json, sys, subprocess, os
import numpy as np, torch

torch.set_num_threads(2)
name, fam, epochs, *args = sys.argv[1:]
run = f"runs/vae-screen/{name}"
if not os.path.exists(run + "/metrics.jsonl"):
    subprocess.run([sys.executable, "-m", "genlab", "train", fam, "--data", "fashion-mnist", "--epochs", epochs,
                    "--out", run, "--quiet", "--progress", "false", "--sample-every", "0", "--tensorboard", "false",
                    "--checkpoint-every", "0", *args], check=True, stdout=subprocess.DEVNULL)
rows = [json.loads(l) for l in open(run + "/metrics.jsonl")]
ips = np.median([r["images_per_s"] for r in rows if "images_per_s" in r][2:])
from genlab import api
from genlab.data import load_dataset
from genlab.metrics import evaluate
from sklearn.mixture import GaussianMixture
m = api.load(run)
tr = load_dataset("fashion-mnist", split="train").prepare("cpu")
x01 = ((tr["x"].float() + 1) / 2)
y = tr["y"] if m.conditional else None
te = load_dataset("fashion-mnist", split="test")
ev = m.evaluate(te, n=2000, k=100)
mu = m.posterior_mean(x01, y).numpy().astype(np.float64)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vae_epochs import iwae_nll, genlab_bin_log_prob
xt = torch.round(((te.prepare("cpu")["x"][:300].float()+1)/2).clamp(0,1)*255)/255
m.eval()
dn = iwae_nll(lambda x: m.encode(x, None), genlab_bin_log_prob(m), xt, 20) if not m.conditional else None
res = {"name": name, "args": args, "ips": round(ips), "nll": round(ev["nll_iwae"], 2), "dnll": dn, "active": ev["active_units"]}
gen = torch.Generator().manual_seed(1)
def score(imgs, labels=None):
    r = evaluate(imgs, reference="fashion-mnist", metrics=["fid", "pr"] + (["accuracy"] if labels is not None else []), labels=labels)
    return {k: round(v, 3) for k, v in r.items() if k in ("fid", "precision", "recall", "accuracy")}
N = 10000
lab = torch.arange(N) % 10 if m.conditional else None
z = torch.randn(N, m.config.latent_dim, generator=gen)
res["prior"] = score(m.decode_images(z, lab), lab)
for K in (10,):
    if m.conditional:
        zs = []
        for c in range(10):
            g = GaussianMixture(K, covariance_type="full", random_state=0, reg_covar=1e-4).fit(mu[(y == c).numpy()])
            zs.append(torch.from_numpy(g.sample(N // 10)[0]).float())
        z = torch.cat(zs); labg = torch.arange(10).repeat_interleave(N // 10)
        res[f"gmm{K}"] = score(m.decode_images(z, labg), labg)
    else:
        g = GaussianMixture(K, covariance_type="full", random_state=0, reg_covar=1e-4).fit(mu)
        z = torch.from_numpy(g.sample(N)[0]).float()
        res[f"gmm{K}"] = score(m.decode_images(z))
if m.conditional:
    xs, ys = x01[:3000], y[:3000]
    sw = (ys + 1) % 10
    res["swap_acc"] = round(evaluate(m.decode_images(m.posterior_mean(xs, ys), sw), metrics=["accuracy"], labels=sw, reference="fashion-mnist")["accuracy"], 3)
print(json.dumps(res)); open("benchmarks/results/vae_defaults_screen.jsonl", "a").write(json.dumps(res) + "\n")
