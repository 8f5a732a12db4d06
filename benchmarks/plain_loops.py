"""Hand-written PyTorch training loops, one per genlab family, for `train_speed.py`.

Each loop trains the networks of a genlab model object (built by
`genlab.api.prepare_run`, so the same architecture and initial weights as the
Trainer's run) and writes out, by hand, the work of that family's default
`train_step`: the same objective, the same number of forward/backward passes
and optimizer steps, the same default extra terms (InfoGAN's mutual
information, CycleGAN's cycle and identity losses and history pools, SeqVAE's
word dropout, KL annealing and gradient clipping), the same Adam
hyper-parameters. It never calls genlab's `train_step` or Trainer.

The style is what a careful user writes from the PyTorch examples: a
DataLoader over a TensorDataset (shuffle, drop_last), `torch.optim.Adam` with
its default implementation, contiguous tensors, and `loss.item()` each step
for logging.

Every loop has the signature ``plain_<family>(model, tensors, batch_size,
steps, warmup, device)``, where `tensors` is what the dataset's
``prepare("cpu")`` returns, and returns items per second over the `steps`
timed steps that follow `warmup` untimed ones (an item is an image, a
(domain A, domain B) image pair for CycleGAN, a sequence for RGAN/SeqVAE).
"""

from __future__ import annotations

import math
import random
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

LOG_2PI = math.log(2 * math.pi)


def timed_loop(loader, steps, warmup, batch_size, device, step_fn):
    """Call `step_fn(step, *batch)` for warmup + steps batches (cycling over epochs);
    items per second over the last `steps`. `step_fn` returns the values it logs
    (Python floats from `.item()`, one host sync per step)."""
    step, t0 = 0, None
    while step < warmup + steps:
        for batch in loader:
            batch = [t.to(device) for t in batch]
            if step == warmup:
                t0 = time.perf_counter()
            step_fn(step, *batch)
            step += 1
            if step >= warmup + steps:
                break
    return steps * batch_size / (time.perf_counter() - t0)


def make_loader(*tensors, batch_size):
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=True, drop_last=True)


def adam_gan(G, D, c):
    """Separate Adam optimizers for G and D with the GAN config's rates and betas."""
    opt_g = torch.optim.Adam(G.parameters(), lr=c.lr_g, betas=(c.beta1, c.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=c.lr_d, betas=(c.beta1, c.beta2))
    return opt_g, opt_d


def check_gan_defaults(c):
    """The loops below write out genlab's default GAN step; refuse configs they do not cover."""
    assert c.loss == "nonsaturating" and c.d_steps == 1 and c.r1_gamma == 0 and c.ema == 0 and not c.diffaugment, \
        "plain loops mirror the default GAN step only (nonsaturating, 1 D step, no R1/EMA/DiffAugment)"


# ---------------------------------------------------------------------------
# GANs


def bce(logits, target):
    """Non-saturating GAN loss term: BCE of D's logits against all-ones or all-zeros."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(target)))


def gan_step(G, D, opt_g, opt_d, real, z, real_cond=(), fake_cond=()):
    """One D step (real + detached fake), then one G step through a frozen D, as in the
    PyTorch DCGAN example. `real_cond`/`fake_cond` are the extra inputs (labels) of a
    conditional G and D."""
    fake = G(z, *fake_cond)
    d_real, d_fake = D(real, *real_cond).view(-1), D(fake.detach(), *fake_cond).view(-1)
    loss_d = bce(d_real, 1) + bce(d_fake, 0)
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    D.requires_grad_(False)  # G's step needs gradients through D, not D's weight gradients
    loss_g = bce(D(fake, *fake_cond).view(-1), 1)
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    D.requires_grad_(True)
    return (loss_d.item(), loss_g.item())  # logged every step


def gan_setup(model, device):
    c = model.config
    check_gan_defaults(c)
    G, D = model.generator.to(device), model.discriminator.to(device)
    G.train(), D.train()
    return c, G, D, *adam_gan(G, D, c)


def plain_gan(model, tensors, batch_size, steps, warmup, device):
    """MLP GAN and DCGAN (same step, different networks)."""
    c, G, D, opt_g, opt_d = gan_setup(model, device)

    def step_fn(step, real):
        return gan_step(G, D, opt_g, opt_d, real, torch.randn(real.shape[0], c.latent_dim, device=device))

    return timed_loop(make_loader(tensors["x"], batch_size=batch_size), steps, warmup, batch_size, device, step_fn)


def plain_cgan(model, tensors, batch_size, steps, warmup, device):
    """Conditional GAN: D scores (real, its label) and (fake, a random label); G is conditioned
    on the random labels. Projection D with spectral norm (the default) is part of the network."""
    c, G, D, opt_g, opt_d = gan_setup(model, device)
    k = model.num_classes

    def step_fn(step, real, labels):
        n = real.shape[0]
        z = torch.randn(n, c.latent_dim, device=device)
        fake_labels = torch.randint(0, k, (n,), device=device)
        return gan_step(G, D, opt_g, opt_d, real, z, (labels,), (fake_labels,))

    return timed_loop(make_loader(tensors["x"], tensors["y"], batch_size=batch_size), steps, warmup, batch_size,
                      device, step_fn)


def plain_infogan(model, tensors, batch_size, steps, warmup, device):
    """InfoGAN: latent [z, one-hot c1.., continuous codes]; the mutual-information loss
    (cross-entropy + Gaussian NLL from the Q head on D's trunk) is added to D's loss (on the
    detached fakes) and to G's loss; the Q head is trained by G's optimizer.

    As in genlab's step, D's trunk runs once per batch of fakes in each phase, its
    features feeding both the real/fake head and Q (3 trunk passes a step)."""
    c = model.config
    check_gan_defaults(c)
    G, D, Q = model.generator.to(device), model.discriminator.to(device), model.q_head.to(device)
    opt_g = torch.optim.Adam(list(G.parameters()) + list(Q.parameters()), lr=c.lr_g, betas=(c.beta1, c.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=c.lr_d, betas=(c.beta1, c.beta2))
    G.train(), D.train(), Q.train()

    def sample_latent(n):
        z = [torch.randn(n, c.latent_dim, device=device)]
        cats = [torch.randint(0, k, (n,), device=device) for k in c.categorical]
        z += [F.one_hot(idx, k).float() for idx, k in zip(cats, c.categorical)]
        cont = torch.rand(n, c.continuous, device=device) * 2 - 1
        return torch.cat(z + [cont], 1), cats, cont

    def info_loss(q, cats, cont):
        loss, pos = 0.0, 0
        for idx, k in zip(cats, c.categorical):
            loss = loss + F.cross_entropy(q[:, pos:pos + k], idx)
            pos += k
        if c.continuous:
            mean = q[:, pos:pos + c.continuous]
            if c.continuous_loss == "gaussian":
                logvar = q[:, pos + c.continuous:pos + 2 * c.continuous].clamp(-10, 10)
                nll = 0.5 * ((cont - mean).pow(2) * torch.exp(-logvar) + logvar + LOG_2PI)
            else:
                nll = (cont - mean).pow(2)
            loss = loss + nll.sum(1).mean()
        return loss

    def step_fn(step, real):
        z, cats, cont = sample_latent(real.shape[0])
        fake = G(z)
        fake_d = fake.detach()
        h_fake = D.features(fake_d)
        d_real, d_fake = D(real).view(-1), D.head(h_fake).view(-1)
        loss_d = bce(d_real, 1) + bce(d_fake, 0) + c.info_weight * info_loss(Q(h_fake), cats, cont)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        D.requires_grad_(False)  # Q stays trainable: it belongs to G's optimizer
        h = D.features(fake)
        out = D.head(h).view(-1)
        mi = info_loss(Q(h), cats, cont)
        loss_g = bce(out, 1) + c.info_weight * mi
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)
        return (loss_d.item(), loss_g.item(), mi.item())  # logged every step

    return timed_loop(make_loader(tensors["x"], batch_size=batch_size), steps, warmup, batch_size, device, step_fn)


def plain_rgan(model, tensors, batch_size, steps, warmup, device):
    """Recurrent GAN on sequences: LSTM G fed per-step noise plus a per-sequence noise vector
    repeated at every step; bidirectional-LSTM D; the same D/G steps as the other GANs."""
    c, G, D, opt_g, opt_d = gan_setup(model, device)
    assert not model.conditional, "plain_rgan covers unconditional data (sines without classes)"
    T = model.seq_len

    def step_fn(step, real):
        n = real.shape[0]
        z = torch.randn(n, T, c.latent_dim, device=device)
        if c.seq_latent_dim:
            shared = torch.randn(n, 1, c.seq_latent_dim, device=device)
            z = torch.cat([z, shared.expand(-1, T, -1)], -1)
        return gan_step(G, D, opt_g, opt_d, real, z)

    return timed_loop(make_loader(tensors["x"], batch_size=batch_size), steps, warmup, batch_size, device, step_fn)


class ImagePool:
    """The history buffer of the CycleGAN reference implementation (Shrivastava et al. 2017):
    store fakes until full, then return a stored fake instead of the new one half of the time."""

    def __init__(self, size):
        self.size, self.images = size, []

    def query(self, images):
        images = images.detach()  # D's step must not reach back into G's graph
        if self.size == 0:
            return images
        out = []
        for image in images:
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                i = random.randint(0, self.size - 1)
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


def plain_cyclegan(model, tensors, batch_size, steps, warmup, device):
    """CycleGAN: G step on both generators (LSGAN adversarial terms through frozen D_A/D_B,
    L1 cycle losses x lambda_cycle, L1 identity losses x lambda_cycle*lambda_identity), then one
    D step on both PatchGAN discriminators, real against fakes from a 50-image history pool."""
    c = model.config
    assert c.loss == "lsgan" and c.decay_steps == 0, "plain_cyclegan mirrors the default (lsgan, constant lr)"
    g_ab, g_ba = model.g_ab.to(device), model.g_ba.to(device)
    d_a, d_b = model.d_a.to(device), model.d_b.to(device)
    assert model.shape_a[0] == model.shape_b[0], "plain_cyclegan expects domains with the same channels"
    betas = (c.beta1, c.beta2)
    opt_g = torch.optim.Adam(list(g_ab.parameters()) + list(g_ba.parameters()), lr=c.lr, betas=betas)
    opt_d = torch.optim.Adam(list(d_a.parameters()) + list(d_b.parameters()), lr=c.lr, betas=betas)
    pool_a, pool_b = ImagePool(c.pool_size), ImagePool(c.pool_size)
    lambda_idt = c.lambda_cycle * c.lambda_identity
    for net in (g_ab, g_ba, d_a, d_b):
        net.train()

    def step_fn(step, a, b):
        # generators
        d_a.requires_grad_(False)
        d_b.requires_grad_(False)
        fake_b = g_ab(a)
        rec_a = g_ba(fake_b)
        fake_a = g_ba(b)
        rec_b = g_ab(fake_a)
        gan_ab = 0.5 * (d_b(fake_b) - 1).pow(2).mean()  # LSGAN: G wants D's scores at 1
        gan_ba = 0.5 * (d_a(fake_a) - 1).pow(2).mean()
        cycle = F.l1_loss(rec_a, a) + F.l1_loss(rec_b, b)
        idt = F.l1_loss(g_ab(b), b) + F.l1_loss(g_ba(a), a)
        loss_g = gan_ab + gan_ba + c.lambda_cycle * cycle + lambda_idt * idt
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        # discriminators
        d_a.requires_grad_(True)
        d_b.requires_grad_(True)
        pooled_b, pooled_a = pool_b.query(fake_b), pool_a.query(fake_a)
        loss_d_b = 0.5 * ((d_b(b) - 1).pow(2).mean() + d_b(pooled_b).pow(2).mean())
        loss_d_a = 0.5 * ((d_a(a) - 1).pow(2).mean() + d_a(pooled_a).pow(2).mean())
        opt_d.zero_grad()
        (loss_d_a + loss_d_b).backward()
        opt_d.step()
        return (loss_g.item(), loss_d_a.item(), loss_d_b.item())  # logged every step

    return timed_loop(make_loader(tensors["a"], tensors["b"], batch_size=batch_size), steps, warmup, batch_size,
                      device, step_fn)


# ---------------------------------------------------------------------------
# VAEs


def check_vae_defaults(c):
    assert c.likelihood == "bernoulli" and c.beta == 1 and c.warmup_steps == 0 and c.capacity == 0 \
        and not c.binarize, "plain loops mirror the default VAE objective only (Bernoulli ELBO, beta 1)"


def plain_vae(model, tensors, batch_size, steps, warmup, device):
    """VAE as in the PyTorch VAE example (Bernoulli ELBO, beta 1); for the conditional VAE the
    one-hot label enters the encoder (as extra image channels, inside genlab's Encoder) and
    the decoder (concatenated to z)."""
    c = model.config
    check_vae_defaults(c)
    enc, dec = model.encoder.to(device), model.decoder.to(device)
    k = model.num_classes if model.conditional else 0
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=c.lr)
    enc.train(), dec.train()

    def step_fn(step, xb, *y):
        x01 = (xb + 1) / 2
        cond = (F.one_hot(y[0], k).float(),) if k else ()
        mu, logvar = enc(xb, *cond)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = dec(z, *cond)
        rec = F.binary_cross_entropy_with_logits(logits, x01, reduction="sum") / xb.shape[0]
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / xb.shape[0]
        loss = rec + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()  # running loss, as in the PyTorch VAE example

    data = (tensors["x"], tensors["y"]) if k else (tensors["x"],)
    return timed_loop(make_loader(*data, batch_size=batch_size), steps, warmup, batch_size, device, step_fn)


def plain_seqvae(model, tensors, batch_size, steps, warmup, device):
    """Sequence VAE on continuous series (Bowman et al. 2016): LSTM encoder -> (mu, logvar);
    z sets the decoder's initial state and is fed at every step; teacher forcing with word
    dropout (decoder inputs zeroed with probability word_dropout); Gaussian likelihood with
    sigmoid means and a learned per-feature std; logistic KL annealing; gradient-norm clipping."""
    c = model.config
    assert not model.tokens, "plain_seqvae covers continuous series (sines, csv:)"
    assert c.cell == "lstm" and c.anneal == "logistic", "plain_seqvae mirrors the default (LSTM, logistic annealing)"
    model.to(device)  # its modules and the learned per-feature log std
    encoder, to_latent, from_latent, decoder, out = (model.encoder, model.to_latent, model.from_latent,
                                                     model.decoder, model.out)
    log_sigma = model.log_sigma
    params = [*encoder.parameters(), *to_latent.parameters(), *from_latent.parameters(),
              *decoder.parameters(), *out.parameters(), log_sigma]
    opt = torch.optim.Adam(params, lr=c.lr)
    for net in (encoder, to_latent, from_latent, decoder, out):
        net.train()
    min_log_sigma = math.log(1e-3)

    def step_fn(step, x):
        n = x.shape[0]
        _, (h, _) = encoder(x)
        mu, logvar = to_latent(h[-1]).chunk(2, -1)
        logvar = logvar.clamp(-30, 20)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        # teacher forcing: the previous step's values (zeros first), some dropped to zero
        inp = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], 1)
        keep = (torch.rand(inp.shape[:2], device=device) >= c.word_dropout).to(inp.dtype)
        inp = inp * keep[..., None]
        h0 = torch.tanh(from_latent(z)).reshape(n, c.layers, c.hidden).transpose(0, 1).contiguous()
        hs, _ = decoder(torch.cat([inp, z[:, None, :].expand(-1, inp.shape[1], -1)], -1), (h0, torch.zeros_like(h0)))
        mean = torch.sigmoid(out(hs))
        ls = log_sigma.clamp(min=min_log_sigma)
        rec = 0.5 * (((x - mean) / ls.exp()) ** 2 + 2 * ls + LOG_2PI).sum((1, 2)).mean()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
        kl_weight = c.beta / (1.0 + math.exp(-10.0 * (step / c.anneal_steps - 0.5)))
        loss = rec + kl_weight * kl
        opt.zero_grad()
        loss.backward()
        if c.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, c.grad_clip)
        opt.step()
        return loss.item()  # logged every step

    return timed_loop(make_loader(tensors["x"], batch_size=batch_size), steps, warmup, batch_size, device, step_fn)


PLAIN = {
    "gan": plain_gan,
    "dcgan": plain_gan,
    "cgan": plain_cgan,
    "infogan": plain_infogan,
    "cyclegan": plain_cyclegan,
    "rgan": plain_rgan,
    "vae": plain_vae,
    "cvae": plain_vae,
    "seqvae": plain_seqvae,
}
