import torch

from edge_ssl.methods.mae import MAEConfig, MaskedAutoencoder, mae_vit_base_patch16_dec512d8b
from edge_ssl.models.vit import ViTConfig
from edge_ssl.objectives.mae import mae_loss, normalize_patches


def tiny(**kw) -> MaskedAutoencoder:
    enc = ViTConfig(image_size=16, patch_size=4, in_chans=3, embed_dim=32, depth=1, num_heads=2)
    return MaskedAutoencoder(MAEConfig(encoder=enc, decoder_dim=32, decoder_depth=1, decoder_heads=2, **kw))


def test_loss_scores_only_removed_patches_against_normalised_pixels():
    torch.manual_seed(0)
    target = torch.randn(2, 6, 12) * 3 + 5
    mask = torch.tensor([[1, 0, 1, 0, 0, 0], [0, 0, 0, 1, 1, 0]], dtype=torch.float)  # 1 = removed
    pred = normalize_patches(target).clone()
    assert mae_loss(pred, target, mask) < 1e-10
    pred[mask == 0] += 7.0  # errors on visible patches do not count
    assert mae_loss(pred, target, mask) < 1e-10
    pred[0, 0] += 1.0  # one removed patch off by 1 everywhere: mean over the 4 removed patches
    torch.testing.assert_close(mae_loss(pred, target, mask), torch.tensor(0.25))
    raw = mae_loss(target.clone(), target, mask, norm_pix=False)
    assert raw == 0
    n = normalize_patches(target)
    torch.testing.assert_close(n.mean(-1), torch.zeros(2, 6), atol=1e-5, rtol=0)


def test_forward_masks_75_percent_and_encoder_sees_only_visible_patches():
    torch.manual_seed(0)
    model = tiny()
    imgs = torch.randn(3, 3, 16, 16)
    latent, mask, ids_restore = model.forward_encoder(imgs, 0.75)
    assert latent.shape == (3, 1 + 4, 32)  # cls + 4 of 16 patches
    assert torch.equal(mask.sum(1), torch.full((3,), 12.0))
    pred = model.forward_decoder(latent, ids_restore)
    assert pred.shape == (3, 16, 4 * 4 * 3)
    loss, logs = model({"images": imgs})
    assert loss.ndim == 0 and loss.item() > 0 and logs["visible_patches"] == 4


def test_decoder_puts_each_visible_token_back_on_its_own_patch():
    """With the decoder reduced to identities, its output must be the encoder tokens at their original
    positions and the mask token at every removed one."""
    torch.manual_seed(0)
    enc = ViTConfig(image_size=16, patch_size=4, in_chans=3, embed_dim=48, depth=1, num_heads=2)
    model = MaskedAutoencoder(MAEConfig(encoder=enc, decoder_dim=48, decoder_depth=0, decoder_heads=2))
    with torch.no_grad():
        for lin in (model.decoder_embed, model.decoder_pred):
            lin.weight.copy_(torch.eye(48))
            lin.bias.zero_()
        model.decoder_pos_embed.zero_()
    model.decoder_norm = torch.nn.Identity()
    tokens = torch.randn(2, 16, 48)
    visible, mask, ids_restore = model.random_masking(tokens, 0.75)
    latent = torch.cat([torch.zeros(2, 1, 48), visible], 1)  # (B, 1 + K, D) with a cls slot
    with torch.no_grad():
        pred = model.forward_decoder(latent, ids_restore)
    keep = mask == 0
    assert torch.equal(pred[keep], tokens[keep])
    assert torch.equal(pred[~keep], model.mask_token.detach()[0].expand(int((~keep).sum()), -1))


def test_param_groups_skip_decay_on_biases_norms_and_tokens():
    model = tiny()
    decay, no_decay = model.param_groups()
    assert no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    nd = {names[id(p)] for p in no_decay["params"]}
    d = {names[id(p)] for p in decay["params"]}
    assert {"encoder.cls_token", "mask_token", "encoder.norm.weight", "decoder_pred.bias"} <= nd
    assert {"encoder.patch_embed.proj.weight", "decoder_pred.weight", "encoder.blocks.0.attn.q_proj.weight"} <= d
    assert len(nd) + len(d) == len(names)


def test_base_factory_matches_the_reference_size():
    with torch.device("meta"):
        model = mae_vit_base_patch16_dec512d8b()
    n = sum(p.numel() for p in model.parameters())
    # facebookresearch/mae counts 111,907,840 including its frozen sin-cos tables (197 x 768 + 197 x 512)
    assert n == 111_907_840 - 197 * 768 - 197 * 512
    assert (model.cfg.decoder_dim, model.cfg.decoder_depth, model.cfg.decoder_heads) == (512, 8, 16)
    assert model.cfg.mask_ratio == 0.75 and model.cfg.norm_pix_loss
