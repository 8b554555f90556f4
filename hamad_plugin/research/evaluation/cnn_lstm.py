"""Seed 002's lightweight CNN-LSTM baseline, built exactly as its Table 1 says.

Input (d features) -> reshape (d, 1) -> Conv1D 32 filters, kernel 3, ReLU
("same" padding, so the output keeps length d as the table's (None, X, 32))
-> MaxPooling1D 2 -> LSTM 64 (last hidden state) -> Dense 32 ReLU ->
Dropout -> Dense 2 softmax. Adam, cross-entropy, early stopping on the loss
of a validation split carved from the TRAINING rows only.

Table 1 says "~30,000" parameters; :func:`count_parameters` reports ours
(27,362 with PyTorch's two LSTM bias vectors). Inputs are signed-log1p
transformed and standardised with statistics of the training rows (the
paper gives no preprocessing; unscaled byte counts would stall an LSTM).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...errors import DependencyError, NotFittedError


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - environment dependent
        raise DependencyError(
            "the CNN-LSTM baseline needs PyTorch: pip install 'hamad-zeek[dl]'"
        ) from exc
    return torch


def build_model(n_features: int, dropout: float = 0.3) -> Any:
    """The Table 1 network as a torch ``nn.Module`` returning logits (softmax in the loss)."""
    torch = _torch()
    nn = torch.nn

    class CnnLstm(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(1, 32, kernel_size=3, padding=1)
            self.pool = nn.MaxPool1d(2)
            self.lstm = nn.LSTM(input_size=32, hidden_size=64, batch_first=True)
            self.dense = nn.Linear(64, 32)
            self.drop = nn.Dropout(dropout)
            self.out = nn.Linear(32, 2)

        def forward(self, x: Any) -> Any:
            h = torch.relu(self.conv(x.unsqueeze(1)))  # (n, 32, d)
            h = self.pool(h).transpose(1, 2)  # (n, d/2, 32)
            _, (hn, _) = self.lstm(h)
            h = self.drop(torch.relu(self.dense(hn[-1])))
            return self.out(h)

    if n_features < 2:
        raise ValueError("the CNN-LSTM needs at least 2 input features (MaxPool of 2)")
    return CnnLstm()


def count_parameters(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def _signed_log(X: NDArray[np.float32]) -> NDArray[np.float32]:
    return np.asarray(np.sign(X) * np.log1p(np.abs(X)), dtype=np.float32)


@dataclass
class CnnLstmClassifier:
    """scikit-learn-style wrapper: ``fit(X, y, X_val, y_val)``, ``predict_proba(X) -> (n,)``."""

    max_epochs: int = 20
    patience: int = 3
    batch_size: int = 256
    lr: float = 1e-3
    dropout: float = 0.3
    random_state: int = 0
    n_threads: int = 2
    verbose: bool = False
    history_: list[dict[str, float]] = field(default_factory=list)

    def _prep(self, X: NDArray[np.float32]) -> NDArray[np.float32]:
        Z = (_signed_log(np.asarray(X, dtype=np.float32)) - self.mean_) / self.scale_
        return np.asarray(np.clip(Z, -10.0, 10.0), dtype=np.float32)

    def fit(
        self,
        X: NDArray[np.float32],
        y: NDArray[np.int64],
        X_val: NDArray[np.float32],
        y_val: NDArray[np.int64],
    ) -> CnnLstmClassifier:
        """Train with Adam; keep the weights of the epoch with the lowest validation loss."""
        torch = _torch()
        torch.manual_seed(self.random_state)
        torch.set_num_threads(self.n_threads)
        L = _signed_log(np.asarray(X, dtype=np.float32))
        self.mean_ = L.mean(axis=0)
        sd = L.std(axis=0)
        self.scale_ = np.where(sd > 1e-6, sd, 1.0).astype(np.float32)
        self.n_features_in_ = int(X.shape[1])
        model = build_model(self.n_features_in_, self.dropout)
        self.n_parameters_ = count_parameters(model)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        xt = torch.from_numpy(self._prep(X))
        yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
        xv = torch.from_numpy(self._prep(X_val))
        yv = torch.from_numpy(np.asarray(y_val, dtype=np.int64))
        gen = torch.Generator().manual_seed(self.random_state)
        best: tuple[float, dict[str, Any] | None, int] = (float("inf"), None, 0)
        bad = 0
        t0 = time.perf_counter()
        self.history_ = []
        for epoch in range(self.max_epochs):
            model.train()
            perm = torch.randperm(len(xt), generator=gen)
            total = 0.0
            for start in range(0, len(xt), self.batch_size):
                b = perm[start : start + self.batch_size]
                opt.zero_grad()
                loss = loss_fn(model(xt[b]), yt[b])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(b)
            val_loss = self._loss(model, xv, yv, loss_fn)
            self.history_.append(
                {"epoch": epoch + 1, "train_loss": total / len(xt), "val_loss": val_loss}
            )
            if val_loss < best[0] - 1e-5:
                state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                best = (val_loss, state, epoch + 1)
                bad = 0
            else:
                bad += 1
                if bad >= self.patience:
                    break
        if best[1] is not None:
            model.load_state_dict(best[1])
        self.best_epoch_ = best[2]
        self.fit_seconds_ = time.perf_counter() - t0
        model.eval()
        self.model_ = model
        return self

    def _loss(self, model: Any, xv: Any, yv: Any, loss_fn: Any) -> float:
        torch = _torch()
        model.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, len(xv), 4096):
                total += float(
                    loss_fn(model(xv[start : start + 4096]), yv[start : start + 4096])
                ) * len(xv[start : start + 4096])
        return total / max(len(xv), 1)

    def predict_proba(self, X: NDArray[np.float32]) -> NDArray[np.float64]:
        """Softmax probability of the attack class, shape (n,)."""
        if not hasattr(self, "model_"):
            raise NotFittedError("CnnLstmClassifier is not fitted; call fit first")
        torch = _torch()
        xt = torch.from_numpy(self._prep(X))
        out = []
        with torch.no_grad():
            for start in range(0, len(xt), 4096):
                out.append(
                    torch.softmax(self.model_(xt[start : start + 4096]), dim=1)[:, 1].numpy()
                )
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def size_bytes(self) -> int:
        """float32 weight bytes (what a deployment would ship)."""
        return int(self.n_parameters_ * 4)
