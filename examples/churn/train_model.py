"""Train the churn example's gradient-boosted model and export it to ONNX
(models/churn.onnx), for pipeline-model.yaml. The demo does not run this:
the exported model is committed. Re-run it from the repository root with

    .venv/bin/python examples/churn/train_model.py

It prepares the data as the pipeline's steps do (median for age and
income, the most frequent plan, one indicator column per plan), fits
scikit-learn's GradientBoostingClassifier on it, and exports it with
skl2onnx (probabilities as a tensor: `zipmap` off). The model's input is
the seven feature columns in the order pipeline-model.yaml lists them.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import roc_auc_score

HERE = Path(__file__).resolve().parent
PLANS = ["basic", "enterprise", "pro"]
FEATURES = ["age", "income", *(f"plan={p}" for p in PLANS), "tenure_months", "monthly_charges"]


def features(data: pd.DataFrame) -> np.ndarray:
    """The model's input: gaps filled and plans one-hot, as float32."""
    x = data.copy()
    for column in ["age", "income"]:
        x[column] = x[column].fillna(x[column].median())
    x["plan"] = x["plan"].fillna(x["plan"].mode()[0])
    for plan in PLANS:
        x[f"plan={plan}"] = (x["plan"] == plan).astype(np.float64)
    return x[FEATURES].to_numpy(np.float32)


def main() -> None:
    data = pd.read_csv(HERE / "data/train.csv")
    x, y = features(data), data["churned"].to_numpy()
    model = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).fit(x, y)
    onnx = to_onnx(model, initial_types=[("input", FloatTensorType([None, len(FEATURES)]))],
                   target_opset=17, options={"zipmap": False})
    (HERE / "models/churn.onnx").write_bytes(onnx.SerializeToString())
    auc = roc_auc_score(y, model.predict_proba(x)[:, 1])
    print(f"models/churn.onnx: {len(FEATURES)} features, training ROC AUC {auc:.3f}")


if __name__ == "__main__":
    main()
