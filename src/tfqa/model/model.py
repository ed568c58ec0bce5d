"""``OptimizedMTLModel``: the thesis's cross-modal Transformer with five task heads (SPEC §2.2–2.3).

Data flow for a batch of windows (B clips × T frames)::

    visual (B,T,d_v) ─ Linear(d_v,256)→ReLU→Dropout→Linear(256,E) ─┐
    audio  (B,T,d_a) ─ Linear(d_a,512)→ReLU→Dropout→Linear(512,E) ─┤  e_m (B,T,E)
    keypts (B,T,d_k) ─ Linear(d_k,512)→ReLU→Dropout→Linear(512,E) ─┤
    au     (B,T,d_u) ─ Linear(d_u,128)→ReLU→Dropout→Linear(128,E) ─┤
    sync   (B,T,d_s) ─ Linear(d_s, 64)→ReLU→Dropout→Linear( 64,E) ─┘  (our addition)
    clip   (B,C)     ─ Linear(C,   64)→ReLU→Dropout→Linear( 64,E) ── c (B,E)   (our addition)

    frame tokens  x_t = mean_m e_m,t + P_t        P = nn.Parameter(150, E), learnable
    temporal encoder  h = nn.TransformerEncoder(x; L layers, H heads, FFN F), padding masked

    Path A (statistical concatenation): [mean_t e_m, std_t e_m for each m, c] → Linear → a
    Path B (interactive Transformer):  tokens [mean_t h, mean_t e_m for each m, c]
                                       + token-type embeddings → TransformerEncoder → b = out[0]
    fusion  z = g·a + (1−g)·b,  g = sigmoid(Linear([a, b]))   (``fusion="dual"``)
            then LayerNorm → Linear(E,E) → ReLU (the last shared layer; GradNorm's W)

    five heads  Linear(E,256)→ReLU→Dropout→Linear(256,128)→ReLU→Linear(128,1)→Sigmoid,
                scaled to 1 + 4·s ∈ [1, 5]

The sync branch (the contract's per-frame sync evidence plus the face-present
mask) and the clip-evidence token are our additions: the thesis's SyncNet
offset/confidence has no branch of its own in its figure, and the embedded
extractors measure per-clip evidence (DNSMOS, offsets...) that would otherwise
be lost.  Ablations switch them off (``modalities``, ``use_clip_stats``).

The model returns the time-pooled modality embeddings beside the scores; the
consistency loss (:func:`consistency_loss`) pulls those of one clip together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from tfqa.data.manifest import TASKS
from tfqa.errors import ConfigError
from tfqa.model.config import ModelConfig

# Hidden width of each embedding branch (SPEC §2.2; sync and clip are ours).
BRANCH_HIDDEN = {"visual": 256, "audio": 512, "keypoints": 512, "au": 128, "sync": 64}
CLIP_HIDDEN = 64
HEAD_HIDDEN = (256, 128)  # SPEC §2.3
SCORE_MIN, SCORE_MAX = 1.0, 5.0
CONSISTENCY_MODES = ("std", "corr", "cov")


class ModelOutput(NamedTuple):
    scores: torch.Tensor  # (B, 5) in [1, 5], columns in TASKS order
    modality_embeddings: torch.Tensor  # (B, M, E) time-pooled, for the consistency loss


def branch(d_in: int, hidden: int, embed_dim: int, dropout: float) -> nn.Sequential:
    """``Linear(d_in, hidden) → ReLU → Dropout → Linear(hidden, E)``."""
    return nn.Sequential(
        nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, embed_dim)
    )


def head(embed_dim: int, dropout: float) -> nn.Sequential:
    """``Linear(E,256)→ReLU→Dropout→Linear(256,128)→ReLU→Linear(128,1)→Sigmoid`` (output in (0, 1))."""
    h1, h2 = HEAD_HIDDEN
    return nn.Sequential(
        nn.Linear(embed_dim, h1),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(h1, h2),
        nn.ReLU(),
        nn.Linear(h2, 1),
        nn.Sigmoid(),
    )


def masked_mean(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean over time of ``x (B, T, ...)`` where ``valid (B, T)``; → ``(B, ...)``."""
    w = valid.to(x.dtype).reshape(*valid.shape, *([1] * (x.ndim - 2)))
    return (x * w).sum(1) / w.sum(1).clamp_min(1.0)


def masked_std(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Standard deviation over time (population) of the valid frames; → ``(B, ...)``."""
    mu = masked_mean(x, valid)
    var = masked_mean((x - mu.unsqueeze(1)) ** 2, valid)
    return (var + 1e-6).sqrt()


def consistency_loss(z: torch.Tensor, mode: str = "std") -> torch.Tensor:
    """Cross-modal consistency of pooled modality embeddings ``z (B, M, E)``.

    Each embedding is first layer-normalised (scale-free comparison).  Modes:

    * ``std``  — mean over clips and features of the standard deviation
      across the M modalities (0 when all modalities agree);
    * ``corr`` — 1 − the mean pairwise Pearson correlation between two
      modalities' embedding vectors of the same clip;
    * ``cov``  — mean over modality pairs of ``‖Cov_m − Cov_n‖²_F / E²``,
      the covariances taken over the batch (CORAL, Sun & Saenko 2016).

    Returns 0 with fewer than two modalities (or, for ``cov``, two clips).
    """
    if mode not in CONSISTENCY_MODES:
        raise ConfigError(
            f"Expected consistency mode in {', '.join(CONSISTENCY_MODES)}, but got {mode!r}"
        )
    b, m, e = z.shape
    if m < 2 or (mode == "cov" and b < 2):
        return z.new_zeros(())
    z = F.layer_norm(z.float(), (e,))
    if mode == "std":
        return z.std(dim=1, unbiased=False).mean()
    pairs = torch.triu_indices(m, m, offset=1, device=z.device)
    if mode == "corr":
        u = F.normalize(z - z.mean(-1, keepdim=True), dim=-1)
        sim = u @ u.transpose(1, 2)  # (B, M, M) Pearson correlations
        return 1.0 - sim[:, pairs[0], pairs[1]].mean()
    zc = z - z.mean(0, keepdim=True)
    cov = torch.einsum("bmi,bmj->mij", zc, zc) / (b - 1)  # (M, E, E)
    diff = cov[pairs[0]] - cov[pairs[1]]
    return (diff**2).sum((-1, -2)).mean() / e**2


def _encoder(cfg: ModelConfig, layers: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        cfg.embed_dim,
        cfg.num_heads,
        cfg.ffn_dim,
        cfg.dropout,
        batch_first=True,
        norm_first=True,  # pre-LN: stable at the optimized config's depth and lr
    )
    return nn.TransformerEncoder(
        layer, layers, norm=nn.LayerNorm(cfg.embed_dim), enable_nested_tensor=False
    )


class OptimizedMTLModel(nn.Module):
    """The fusion model (see the module docstring for the data flow).

    Args:
        config: the architecture.
        dims: input dims per modality after preprocessing, incl. ``clip``
            (``Preprocessor.dims``).

    Input of :meth:`forward`: a dict with ``(B, T, dims[m])`` per modality in
    ``config.modalities``, ``clip (B, C)``, and ``valid (B, T)`` bool (False =
    padding); ``T <= config.max_len``.
    """

    def __init__(self, config: ModelConfig, dims: Mapping[str, int]) -> None:
        super().__init__()
        need = [*config.modalities, *(["clip"] if config.use_clip_stats else [])]
        missing = [m for m in need if m not in dims]
        if missing:
            raise ConfigError(f"Expected input dims for {need}, but {missing} are missing")
        self.config, self.dims = config, {k: int(v) for k, v in dims.items()}
        e, p = config.embed_dim, config.dropout
        self.branches = nn.ModuleDict(
            {m: branch(self.dims[m], BRANCH_HIDDEN[m], e, p) for m in config.modalities}
        )
        self.clip_branch = (
            branch(self.dims["clip"], CLIP_HIDDEN, e, p) if config.use_clip_stats else None
        )
        n_mod, n_clip = len(config.modalities), int(config.use_clip_stats)
        self.use_a = config.fusion in ("dual", "statistical")
        self.use_b = config.fusion in ("dual", "transformer")
        if self.use_b:
            self.pos = nn.Parameter(torch.randn(config.max_len, e) * 0.02)
            self.encoder = _encoder(config, config.num_layers)
            self.token_type = nn.Parameter(torch.randn(1 + n_mod + n_clip, e) * 0.02)
            self.path_b = _encoder(config, config.fusion_layers) if config.fusion_layers else None
        if self.use_a:
            self.path_a = nn.Sequential(
                nn.Linear((2 * n_mod + n_clip) * e, e), nn.ReLU(), nn.Dropout(p)
            )
        self.gate = nn.Linear(2 * e, e) if config.fusion == "dual" else None
        self.shared_out = nn.Sequential(nn.LayerNorm(e), nn.Linear(e, e), nn.ReLU())
        self.heads = nn.ModuleDict({t: head(e, p) for t in TASKS})
        self.grad_checkpointing = False

    # ------------------------------------------------------------------------------
    def last_shared_layer(self) -> nn.Linear:
        """The last layer shared by all tasks (GradNorm measures gradient norms on its weight)."""
        return self.shared_out[1]

    def forward(self, batch: Mapping[str, torch.Tensor]) -> ModelOutput:
        valid = batch["valid"]
        t = valid.shape[1]
        if t > self.config.max_len:
            raise ConfigError(
                f"Expected windows of at most {self.config.max_len} frames, but got {t}"
            )
        emb = torch.stack([self.branches[m](batch[m]) for m in self.config.modalities], dim=2)
        keep = self._modality_keep(emb)  # (B, M) 1 = used / 0 = dropped; None = all used
        if keep is not None:
            emb = emb * keep[:, None, :, None]
        pooled = masked_mean(emb, valid)  # (B, M, E)
        clip_tok = [self.clip_branch(batch["clip"])] if self.clip_branch is not None else []
        paths = []
        if self.use_a:
            stats = [pooled.flatten(1), masked_std(emb, valid).flatten(1), *clip_tok]
            paths.append(self.path_a(torch.cat(stats, dim=1)))
        if self.use_b:
            # mean over the modalities kept
            frames = emb.mean(2) if keep is None else emb.sum(2) / keep.sum(1)[:, None, None]
            h = self._encode(frames + self.pos[:t], ~valid)
            tokens = torch.cat(
                [masked_mean(h, valid).unsqueeze(1), pooled, *[c.unsqueeze(1) for c in clip_tok]],
                dim=1,
            )
            tokens = tokens + self.token_type
            if self.path_b is not None:
                tokens = self.path_b(tokens)
            paths.append(tokens[:, 0])
        if self.gate is not None:
            g = torch.sigmoid(self.gate(torch.cat(paths, dim=1)))
            z = g * paths[0] + (1 - g) * paths[1]
        else:
            z = paths[0]
        z = self.shared_out(z)
        scores = torch.cat([self.heads[k](z) for k in TASKS], dim=1)
        scores = SCORE_MIN + (SCORE_MAX - SCORE_MIN) * scores
        return ModelOutput(scores, pooled)

    def _modality_keep(self, emb: torch.Tensor) -> torch.Tensor | None:
        """ModDrop mask ``(B, M)`` when training with ``modality_dropout > 0``, else None."""
        b, m = emb.shape[0], emb.shape[2]
        p = self.config.modality_dropout
        if not (self.training and p > 0 and m > 1):
            return None  # inference and the thesis setting: no mask, no extra work
        keep = (torch.rand(b, m, device=emb.device) >= p).to(emb.dtype)
        none = keep.sum(1) == 0  # never drop everything: keep one modality at random
        if none.any():
            keep[none, torch.randint(m, (int(none.sum()),), device=emb.device)] = 1.0
        return keep

    def _encode(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """The temporal encoder; with ``grad_checkpointing``, each layer recomputes in backward."""
        if not (self.grad_checkpointing and self.training and torch.is_grad_enabled()):
            return self.encoder(x, src_key_padding_mask=pad)
        for layer in self.encoder.layers:
            x = checkpoint(layer, x, None, pad, use_reentrant=False)
        return self.encoder.norm(x)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
