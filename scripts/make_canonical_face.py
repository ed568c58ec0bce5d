"""Regenerate src/tfqa/assets/canonical_face.npy: the frontal, symmetric reference face.

The reference is MediaPipe's face mesh of the astronaut photo that ships in
scikit-image (public-domain NASA portrait), made mirror-symmetric, rotated
to a frontal pose (x: subject's right→left eye, y: down, z: away from the camera)
and scaled to an inter-ocular (outer eye corner) distance of 1.
Run: .venv/bin/python scripts/make_canonical_face.py
"""

from pathlib import Path

import mediapipe as mp
import numpy as np
from skimage import data

MIDLINE = [1, 2, 4, 5, 6, 8, 9, 10, 13, 14, 17, 0, 18, 94, 151, 152, 164, 168, 175, 195, 197, 199, 200]


def main() -> None:
    img = data.astronaut()
    h, w = img.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as fm:
        res = fm.process(img)
    lm = res.multi_face_landmarks[0].landmark
    p = np.array([[q.x * w, q.y * h, q.z * w] for q in lm[:468]], dtype=np.float64)
    # midline plane by SVD; reflect and pair each point with its mirror partner
    c = p[MIDLINE].mean(0)
    _, _, vt = np.linalg.svd(p[MIDLINE] - c)
    n = vt[2]
    if n @ (p[263] - p[33]) < 0:
        n = -n
    refl = p - 2 * ((p - c) @ n)[:, None] * n
    partner = np.argmin(((refl[:, None, :] - p[None, :, :]) ** 2).sum(-1), axis=1)
    sym = 0.5 * (p + refl[partner])
    # frame: x = n, y = chin-ward within the midline plane, z = x cross y
    y = sym[152] - sym[10]
    y -= (y @ n) * n
    y /= np.linalg.norm(y)
    z = np.cross(n, y)
    basis = np.stack([n, y, z])
    centre = 0.5 * (sym[33] + sym[263])
    out = (sym - centre) @ basis.T
    out /= np.linalg.norm(out[263] - out[33])
    dest = Path(__file__).resolve().parents[1] / "src" / "tfqa" / "assets" / "canonical_face.npy"
    np.save(dest, out.astype(np.float32))
    print(f"wrote {dest}: eye corners {out[33].round(3)} {out[263].round(3)}, nose tip {out[1].round(3)}")


if __name__ == "__main__":
    main()
