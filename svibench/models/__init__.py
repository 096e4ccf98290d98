"""Model code shared by generators (inference) and trainers: the tiny I2V model, flow matching,
Wan model paths and Wan's CLIP image preprocessing. Imports neither ``generators`` nor ``train``,
so both can import it (no generators <-> train cycle)."""
